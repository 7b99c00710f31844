"""RFC 9457 problem details for every error a DRF view raises.

Install with ``REST_FRAMEWORK = {"EXCEPTION_HANDLER": "nexus_api.errors.problem_exception_handler"}``.
Clients then get one shape for every failure (``type``, ``title``, ``status``, ``detail``,
``instance``, ``request_id``) as ``application/problem+json``, whatever raised it.
"""

from __future__ import annotations

import http
import json
import logging
import re
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.signals import got_request_exception
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.encoding import force_str
from django.utils.translation import gettext_lazy as _
from django.views import defaults
from rest_framework import exceptions
from rest_framework.fields import get_error_detail
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from nexus_api.conf import get_settings

__all__ = [
    "PROBLEM_CONTENT_TYPE",
    "ProblemException",
    "ProblemJSONRenderer",
    "get_request_id",
    "handler400",
    "handler403",
    "handler404",
    "handler500",
    "problem_exception_handler",
    "problem_response",
    "problem_type_uri",
]

logger = logging.getLogger("nexus_api.errors")

PROBLEM_CONTENT_TYPE = "application/problem+json"

#: Members defined by RFC 9457 (plus ours); extensions may not overwrite them.
_RESERVED_MEMBERS = frozenset({"type", "title", "status", "detail", "instance", "request_id", "code"})

# A client-supplied request id is echoed into logs and headers: keep it short and inert.
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:/+=@-]{1,200}$")
_REQUEST_ID_ATTR = "_nexus_api_request_id"

# DRF's generic codes that read better as a different slug in a type URI.
_SLUG_OVERRIDES = {"invalid": "validation-error", "error": "server-error"}


class ProblemException(exceptions.APIException):
    """An ``APIException`` that knows its problem type and carries extension members.

    Subclass it for errors your API documents::

        class OutOfStock(ProblemException):
            status_code = 409
            default_code = "out_of_stock"  # -> type "<PROBLEM_TYPE_BASE>out-of-stock"
            title = "Out of stock"


        raise OutOfStock("Only 2 left.", available=2)  # "available": 2 in the body

    ``problem_type`` overrides the slug derived from ``default_code``; an absolute URI
    (anything containing ``:``) is used as the ``type`` as is.
    """

    status_code = 400
    default_detail = _("The request could not be processed.")
    default_code = "bad_request"
    #: Slug (or absolute URI) of the problem type; ``None`` derives it from the code.
    problem_type: ClassVar[str | None] = None
    #: Short, occurrence-independent summary; ``None`` uses ``default_detail``.
    title: ClassVar[str | None] = None

    def __init__(
        self,
        detail: Any = None,
        code: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        clash = _RESERVED_MEMBERS.intersection(extensions)
        if clash:
            raise ValueError(
                f"{type(self).__name__}: {', '.join(sorted(clash))} are standard problem members; "
                "pass them as detail/code or set them as class attributes, not as extensions."
            )
        super().__init__(detail, code)
        #: Extra members merged into the problem body (RFC 9457 section 3.2).
        self.extensions: dict[str, Any] = extensions
        #: Extra response headers (e.g. ``Retry-After``).
        self.headers: dict[str, str] = dict(headers or {})


class ProblemJSONRenderer(JSONRenderer):
    """Renders problem bodies with the ``application/problem+json`` media type.

    The exception handler selects it for every problem response, so a client that
    accepts ``application/json`` still sees the problem media type. Listing it in
    ``DEFAULT_RENDERER_CLASSES`` is not needed.
    """

    media_type = PROBLEM_CONTENT_TYPE
    format = "problem+json"


def problem_type_uri(code: str) -> str:
    """The ``type`` URI for an error code or slug: ``invalid_cursor`` -> ``<base>invalid-cursor``.

    Absolute URIs (containing ``:``) pass through, so a ``ProblemException`` may point
    at a type documented elsewhere.
    """
    if ":" in code:
        return code
    slug = _SLUG_OVERRIDES.get(code, code).strip().lower().replace("_", "-").replace(" ", "-")
    return f"{get_settings().PROBLEM_TYPE_BASE}{slug}"


def get_request_id(request: HttpRequest | Request | None) -> str:
    """The id correlating this request's problem body, response header and log lines.

    Taken from the ``REQUEST_ID_HEADER`` header when it looks like an id (so a proxy's
    id flows through), else generated once per request and remembered on it.
    """
    if request is None:
        return uuid.uuid4().hex
    django_request: HttpRequest = request._request if isinstance(request, Request) else request
    cached = getattr(django_request, _REQUEST_ID_ATTR, None)
    if isinstance(cached, str):
        return cached
    header = get_settings().REQUEST_ID_HEADER
    supplied = django_request.headers.get(header, "") if header else ""
    request_id = supplied if _REQUEST_ID_RE.match(supplied) else uuid.uuid4().hex
    setattr(django_request, _REQUEST_ID_ATTR, request_id)
    return request_id


def _as_api_exception(exc: Exception) -> exceptions.APIException | None:
    """Translate Django's own exceptions the way DRF does, plus the ones DRF leaves as 500s."""
    if isinstance(exc, exceptions.APIException):
        return exc
    if isinstance(exc, Http404):
        return exceptions.NotFound(*exc.args)
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(*exc.args)
    if isinstance(exc, DjangoValidationError):
        # Raised by model.full_clean() or validators called in a view: a client error.
        return exceptions.ValidationError(get_error_detail(exc))
    if isinstance(exc, SuspiciousOperation):
        # Django answers these with 400 and never shows the message to the client.
        return exceptions.ParseError(_("The request was malformed."), code="bad_request")
    return None


def _code_of(exc: exceptions.APIException) -> str:
    if isinstance(exc, exceptions.ValidationError):
        # Per-field codes live in "errors"; the problem type is the class's.
        return str(exc.default_code)
    code = exc.get_codes()
    return code if isinstance(code, str) and code else str(exc.default_code)


def _title_of(exc: exceptions.APIException, status: int) -> str:
    title = getattr(exc, "title", None)
    if isinstance(title, str) and title:
        return title
    if type(exc).default_detail is exceptions.APIException.default_detail:
        # A bare APIException (or our generic 500) says nothing beyond its status.
        return _phrase(status)
    return force_str(type(exc).default_detail).rstrip(".") or _phrase(status)


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _field_errors(detail: Any) -> Any:
    """DRF's nested error structure with ErrorDetail turned into plain strings."""
    if isinstance(detail, Mapping):
        return {str(key): _field_errors(value) for key, value in detail.items()}
    if isinstance(detail, list | tuple):
        return [_field_errors(item) for item in detail]
    return force_str(detail)


def _validation_summary(errors: Mapping[str, Any]) -> str:
    non_field = api_settings.NON_FIELD_ERRORS_KEY
    fields = [key for key in errors if key != non_field]
    if not fields:
        messages = errors.get(non_field) or []
        first = messages[0] if isinstance(messages, list) and messages else None
        return str(first) if isinstance(first, str) else "The request is invalid."
    noun = "field" if len(fields) == 1 else "fields"
    return f"Invalid input in {len(fields)} {noun}: {', '.join(fields)}."


def _problem_for(exc: exceptions.APIException, request: Request | HttpRequest | None) -> dict[str, Any]:
    status = int(exc.status_code)
    code = _code_of(exc)
    problem_type: str | None = getattr(exc, "problem_type", None)
    body: dict[str, Any] = {
        "type": problem_type_uri(problem_type or code),
        "title": _title_of(exc, status),
        "status": status,
    }
    if isinstance(exc, exceptions.ValidationError):
        status = body["status"] = get_settings().VALIDATION_ERROR_STATUS
        errors = _field_errors(exc.detail)
        if not isinstance(errors, dict):
            errors = {api_settings.NON_FIELD_ERRORS_KEY: errors}
        body["detail"] = _validation_summary(errors)
        body["errors"] = errors
    elif isinstance(exc.detail, dict | list):
        body["detail"] = body["title"]
        body["errors"] = _field_errors(exc.detail)
    else:
        body["detail"] = force_str(exc.detail)
    if request is not None:
        body["instance"] = request.path
    body["code"] = code
    body["request_id"] = get_request_id(request)
    wait = getattr(exc, "wait", None)
    if isinstance(wait, int | float):
        body["retry_after"] = int(wait)
    extensions = getattr(exc, "extensions", None)
    if isinstance(extensions, Mapping):
        body.update({k: v for k, v in extensions.items() if k not in _RESERVED_MEMBERS})
    return body


def _headers_for(exc: exceptions.APIException, request_id: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = str(auth_header)
    wait = getattr(exc, "wait", None)
    if isinstance(wait, int | float):
        headers["Retry-After"] = str(int(wait))
    extra = getattr(exc, "headers", None)
    if isinstance(extra, Mapping):
        headers.update({str(k): str(v) for k, v in extra.items()})
    header = get_settings().REQUEST_ID_HEADER
    if header:
        headers[header] = request_id
    return headers


def _force_problem_renderer(request: Request | HttpRequest | None) -> bool:
    """Make DRF render this response as problem+json even if the client asked for JSON.

    ``APIView.finalize_response`` renders with ``request.accepted_renderer``; replacing it
    here is the one place that reaches every error, including a failed negotiation (406).
    The browsable API is kept for humans in a browser. Returns whether it was replaced.
    """
    if not isinstance(request, Request):
        return False
    current = getattr(request, "accepted_renderer", None)
    if current is not None and getattr(current, "format", None) == "api":
        return False
    request.accepted_renderer = ProblemJSONRenderer()
    request.accepted_media_type = PROBLEM_CONTENT_TYPE
    return True


def problem_response(exc: exceptions.APIException, request: Request | HttpRequest | None) -> Response:
    """A DRF ``Response`` carrying the problem details of ``exc`` (no rollback, no logging).

    Useful where an error must be answered outside the exception handler, e.g. from a
    ``finalize_response`` override.
    """
    body = _problem_for(exc, request)
    headers = _headers_for(exc, body["request_id"])
    forced = _force_problem_renderer(request)
    browsable = isinstance(request, Request) and not forced
    return Response(
        body,
        status=body["status"],
        headers=headers,
        # The browsable API renders HTML and must keep its own content type.
        content_type=None if browsable else PROBLEM_CONTENT_TYPE,
    )


def problem_exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response:
    """DRF ``EXCEPTION_HANDLER``: every exception becomes an RFC 9457 problem response.

    Unlike DRF's handler it never returns ``None``: an unexpected exception is logged
    with its traceback (and reported through ``got_request_exception`` for error
    trackers), and the client gets a generic 500 problem that reveals nothing.
    """
    request = context.get("request")
    api_exc = _as_api_exception(exc)
    if api_exc is None:
        request_id = get_request_id(request)
        logger.error(
            "Unhandled %s in %s (request id %s)",
            type(exc).__name__,
            context.get("view").__class__.__name__,
            request_id,
            exc_info=exc,
        )
        django_request = request._request if isinstance(request, Request) else request
        got_request_exception.send(sender=None, request=django_request)
        api_exc = exceptions.APIException(code="server_error")
    # Imported here, not at module level: rest_framework.views reads DEFAULT_VERSIONING_CLASS
    # while it loads, which may be nexus_api.versioning, which imports this module.
    from rest_framework.views import set_rollback

    set_rollback()
    return problem_response(api_exc, request)


# -- Django's error views ------------------------------------------------------------------
# Errors raised outside DRF (no URL matched, a plain Django view failed) never reach the
# exception handler. ``handler404 = "nexus_api.errors.handler404"`` (and 400/403/500) in the
# root URLconf answers them with problem details too, unless the client prefers HTML (a
# browser on the admin), which gets Django's own pages.

_HTML = "text/html"


def _django_problem(
    request: HttpRequest, exc: exceptions.APIException, html_view: Any, *args: Any
) -> HttpResponse:
    preferred = request.get_preferred_type([PROBLEM_CONTENT_TYPE, "application/json", _HTML])
    if preferred == _HTML:
        return html_view(request, *args)  # type: ignore[no-any-return]
    body = _problem_for(exc, request)
    response = HttpResponse(
        json.dumps(body, cls=DjangoJSONEncoder), status=body["status"], content_type=PROBLEM_CONTENT_TYPE
    )
    for name, value in _headers_for(exc, body["request_id"]).items():
        response[name] = value
    return response


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler400``: a ``bad-request`` problem (the exception's message is not shown)."""
    exc = exceptions.ParseError(_("The request was malformed."), code="bad_request")
    return _django_problem(request, exc, defaults.bad_request, exception)


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler403``: a ``permission-denied`` problem."""
    return _django_problem(request, exceptions.PermissionDenied(), defaults.permission_denied, exception)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler404``: a ``not-found`` problem for URLs no view matched."""
    return _django_problem(request, exceptions.NotFound(), defaults.page_not_found, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    """``handler500``: the same generic ``server-error`` problem the exception handler uses
    (Django has already logged the exception)."""
    return _django_problem(request, exceptions.APIException(code="server_error"), defaults.server_error)
