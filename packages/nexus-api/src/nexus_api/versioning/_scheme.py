"""``NexusVersioning``: DRF versioning with an order of sources, deprecation and sunset.

The version is resolved once per request and remembered on it; the response headers
(``API-Version``, ``Deprecation``, ``Sunset``, ``Link``, ``Vary``) are added by
``apply_version_headers``, which both the view (for every DRF response, errors included)
and ``VersionHeadersMiddleware`` (for responses produced outside DRF, such as 304s) call.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_vary_headers
from django.utils.http import parse_header_parameters
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotAcceptable
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.versioning import URLPathVersioning

from nexus_api.conf import get_settings
from nexus_api.errors import ProblemException
from nexus_api.versioning._changes import (
    ChangeContext,
    downgrade_body,
    downgrade_error_body,
    endpoint_unavailable,
    upgrade_body,
    view_data_changes,
)
from nexus_api.versioning._versions import ApiVersion, Versions, get_versions

__all__ = [
    "SOURCES",
    "EndpointNotInVersion",
    "NexusVersioning",
    "ResolvedVersion",
    "UnsupportedVersion",
    "VersionSunset",
    "apply_version_headers",
    "get_resolved_version",
    "resolve_request_version",
]

#: Where a version can come from, in the names ``VERSION_SOURCES`` uses.
SOURCES = ("url", "accept", "header", "query")
_HEADER_SOURCES = ("accept", "header")
_ATTR = "_nexus_api_version"


class UnsupportedVersion(ProblemException):
    """A version that is not declared: 404 when the URL named it, 406 for a header."""

    status_code = 404
    default_detail = _("This API version is not supported.")
    default_code = "unsupported_version"
    title = "Unsupported API version"


class VersionSunset(ProblemException):
    """A declared version past its sunset date (RFC 8594)."""

    status_code = 410
    default_detail = _("This API version has been retired.")
    default_code = "version_sunset"
    title = "API version retired"


class EndpointNotInVersion(ProblemException):
    """The endpoint exists in other versions only (``AddEndpoint`` / ``RemoveEndpoint``)."""

    status_code = 404
    default_detail = _("This endpoint does not exist in the requested API version.")
    default_code = "endpoint_not_in_version"
    title = "Endpoint not in this API version"


@dataclasses.dataclass(frozen=True)
class ResolvedVersion:
    """The version a request is served in, where it came from, and what it varies on."""

    version: ApiVersion | None
    source: str
    raw: str | None = None
    vary: tuple[str, ...] = ()

    def headers(self) -> dict[str, str]:
        return self.version.headers() if self.version is not None else {}


def _accept_version(value: str | None, param: str) -> str | None:
    """The ``version`` parameter of the first media range in an Accept value naming one."""
    for media_range in (value or "").split(","):
        try:
            _, params = parse_header_parameters(media_range)
        except ValueError:
            continue
        if params.get(param):
            return str(params[param])
    return None


def _read_source(
    source: str,
    request: HttpRequest,
    url_kwargs: Mapping[str, Any],
    accepted_media_type: str | None,
) -> str | None:
    settings = get_settings()
    param = settings.VERSION_PARAM
    if source == "url":
        value = url_kwargs.get(param)
        return str(value) if value else None
    if source == "accept":
        # DRF's negotiated media type first (it is the range that matched a renderer).
        return _accept_version(accepted_media_type, param) or _accept_version(
            request.headers.get("Accept"), param
        )
    if source == "header":
        return request.headers.get(settings.VERSION_HEADER) or None
    if source == "query":
        return request.GET.get(param) or None
    return None


def _vary_for(consulted: list[str]) -> tuple[str, ...]:
    """Headers the answer depended on: every header source consulted before the winner.

    When a header decided (or none did and the default applies), every enabled header
    source is listed (``Vary: Accept, X-API-Version``): a cache then keys on each header
    a client may use to name a version, whichever of them this request happened to send.
    """
    if consulted and consulted[-1] in _HEADER_SOURCES:
        consulted = [*consulted, *(s for s in get_settings().VERSION_SOURCES if s not in consulted)]
    vary: list[str] = []
    for source in consulted:
        if source == "accept":
            vary.append("Accept")
        elif source == "header":
            vary.append(get_settings().VERSION_HEADER)
    return tuple(vary)


def resolve_request_version(
    request: HttpRequest,
    url_kwargs: Mapping[str, Any] | None = None,
    accepted_media_type: str | None = None,
) -> ResolvedVersion:
    """Which version ``request`` asks for, following ``VERSION_SOURCES``.

    ``version`` is ``None`` when the client named a version that is not declared; the
    caller decides how to refuse it. No version named means ``DEFAULT_VERSION``.
    """
    versions = get_versions()
    consulted: list[str] = []
    for source in get_settings().VERSION_SOURCES:
        consulted.append(source)
        raw = _read_source(source, request, url_kwargs or {}, accepted_media_type)
        if raw is not None:
            return ResolvedVersion(versions.get(raw), source, raw, _vary_for(consulted))
    return ResolvedVersion(versions.default, "default", None, _vary_for(consulted))


def get_resolved_version(request: HttpRequest | Request) -> ResolvedVersion | None:
    """The version ``NexusVersioning`` resolved for this request, if it ran."""
    django_request = request._request if isinstance(request, Request) else request
    resolved = getattr(django_request, _ATTR, None)
    return resolved if isinstance(resolved, ResolvedVersion) else None


def apply_version_headers(response: HttpResponseBase, resolved: ResolvedVersion) -> None:
    """Add the version headers to ``response``; safe to call more than once.

    ``Link`` is appended to (a paginator's ``rel="next"`` links stay), ``Vary`` is
    patched, the other headers are only set when absent.
    """
    for name, value in resolved.headers().items():
        if name == "Link":
            existing = response.get("Link", "")
            if value not in existing:
                response["Link"] = f"{existing}, {value}" if existing else value
        elif name not in response:
            response[name] = value
    if resolved.vary:
        patch_vary_headers(response, resolved.vary)


def _attach_to_view(view: Any) -> None:
    """Make the view add the version headers to whatever response it finalizes.

    ``APIView.finalize_response`` is where DRF completes both normal and error responses,
    but it *overwrites* headers listed in ``view.headers``, which would destroy a
    paginator's ``Link``. So the bound method is wrapped on this view instance (views are
    instantiated per request) rather than going through ``view.headers``.
    """
    if view is None or getattr(view, "_nexus_api_headers_attached", False):
        return
    original = view.finalize_response

    def finalize_response(request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any) -> Any:
        response = original(request, response, *args, **kwargs)
        _downgrade_response(view, request, response)
        resolved = get_resolved_version(request)
        if resolved is not None:
            apply_version_headers(response, resolved)
        return response

    view.finalize_response = finalize_response
    view._nexus_api_headers_attached = True


_CHANGES_ATTR = "_nexus_api_changes"


def _downgrade_response(view: Any, request: Request, response: HttpResponseBase) -> None:
    """Translate the body a view wrote for the newest version into the requested one."""
    changes = getattr(view, _CHANGES_ATTR, None)
    if not changes or not isinstance(response, Response) or response.is_rendered or response.data is None:
        return
    context = ChangeContext(version=str(request.version), request=request, view=view)
    if response.status_code < 400:
        paginated = getattr(view, "pagination_class", None) is not None
        response.data = downgrade_body(response.data, changes, context, paginated=paginated)
    elif response.status_code in (400, 422):
        response.data = downgrade_error_body(response.data, changes, context)


_UPGRADING: dict[type[Any], type[BaseParser]] = {}


def _upgrading(parser_class: type[Any]) -> type[BaseParser]:
    """A subclass of the parser that upgrades what it parsed (a subclass, not a proxy,
    because DRF treats JSON and form parsers specially by ``isinstance``)."""
    if parser_class in _UPGRADING:
        return _UPGRADING[parser_class]

    def parse(self: Any, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        parsed = parser_class.parse(self, stream, media_type, parser_context)
        changes, context = self._nexus_api_upgrade
        if hasattr(parsed, "data") and hasattr(parsed, "files"):
            parsed.data = upgrade_body(parsed.data, changes, context)
            return parsed
        return upgrade_body(parsed, changes, context)

    upgrading: type[BaseParser] = type(f"Upgrading{parser_class.__name__}", (parser_class,), {"parse": parse})
    _UPGRADING[parser_class] = upgrading
    return upgrading


def _install_view_changes(view: Any, request: Request, version: ApiVersion) -> None:
    changes = view_data_changes(view, version)
    if not changes:
        return
    setattr(view, _CHANGES_ATTR, changes)
    context = ChangeContext(version=version.name, request=request, view=view)
    parsers: list[Any] = []
    for parser in request.parsers or ():
        upgrading: Any = copy.copy(parser)
        upgrading.__class__ = _upgrading(parser.__class__)
        upgrading._nexus_api_upgrade = (changes, context)
        parsers.append(upgrading)
    request.parsers = tuple(parsers)


class _FromSettings:
    """A class attribute read from ``NEXUS_API`` on every access (also on the class itself,
    which is where drf-spectacular reads ``default_version``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        return getattr(get_settings(), self.name)


def _is_schema_view(view: Any) -> bool:
    # drf-spectacular's SpectacularAPIView reads ``?version=`` only when request.version is
    # None; answering DEFAULT_VERSION there would pin every schema to the default.
    return type(view).__module__.startswith("drf_spectacular.")


class NexusVersioning(URLPathVersioning):
    """DRF versioning class reading ``NEXUS_API["VERSIONS"]``.

    ``REST_FRAMEWORK = {"DEFAULT_VERSIONING_CLASS": "nexus_api.versioning.NexusVersioning"}``.
    ``request.version`` is the version's name; undeclared versions are refused (404 from
    the URL, 406 from a header), retired ones answered with 410; every response gets
    ``API-Version`` and, for deprecated versions, ``Deprecation``/``Sunset``/``Link``.

    It subclasses ``URLPathVersioning`` only so that drf-spectacular recognises it and
    generates one schema per version (``?version=2`` on ``SpectacularAPIView``).
    """

    default_version = _FromSettings("DEFAULT_VERSION")
    version_param = _FromSettings("VERSION_PARAM")

    def determine_version(self, request: Request, *args: Any, **kwargs: Any) -> str | None:  # type: ignore[override]
        context = getattr(request, "parser_context", None) or {}
        view = context.get("view")
        if getattr(view, "swagger_fake_view", False):
            return self._schema_version(view, kwargs)
        versions = get_versions()
        resolved = resolve_request_version(
            request._request, kwargs, getattr(request, "accepted_media_type", None)
        )
        if resolved.source == "default" and _is_schema_view(view):
            return None
        setattr(request._request, _ATTR, resolved)
        _attach_to_view(view)
        version = resolved.version
        if version is None:
            raise _unsupported(resolved, versions)
        if get_settings().ENFORCE_SUNSET and version.is_sunset():
            assert version.sunset is not None
            raise VersionSunset(
                f"API version {version.name} was retired on {version.sunset.date().isoformat()}; "
                f"use one of: {', '.join(versions.supported())}.",
                version=version.name,
                sunset=version.sunset.date().isoformat(),
                supported_versions=versions.supported(),
            )
        changes = getattr(view, "version_changes", None)
        if changes:
            reason = endpoint_unavailable(changes, version)
            if reason is not None:
                raise EndpointNotInVersion(reason, version=version.name)
            _install_view_changes(view, request, version)
        return version.name

    def _schema_version(self, view: Any, kwargs: Mapping[str, Any]) -> str:
        """The version drf-spectacular is generating a schema for (it sets the URL kwarg,
        whatever the sources). NotAcceptable is its signal to leave an operation out."""
        version = get_versions().get(str(kwargs.get(get_settings().VERSION_PARAM) or ""))
        if version is None:
            version = get_versions().default
        changes = getattr(view, "version_changes", None)
        retired = get_settings().ENFORCE_SUNSET and version.is_sunset()
        if retired or (changes and endpoint_unavailable(changes, version) is not None):
            raise NotAcceptable(f"Not part of API version {version.name}.")
        return version.name

    def reverse(
        self,
        viewname: str,
        args: Any = None,
        kwargs: Any = None,
        request: Any = None,
        format: str | None = None,
        **extra: Any,
    ) -> str:
        """Links keep the version segment of the URL the client used (``/api/v1/`` ->
        ``/api/v1/...``), whichever source decided the version."""
        param = get_settings().VERSION_PARAM
        django_request = getattr(request, "_request", request)
        match = getattr(django_request, "resolver_match", None)
        url_version = match.kwargs.get(param) if match is not None else None
        if url_version:
            kwargs = {param: url_version, **(kwargs or {})}
        return super().reverse(viewname, args, kwargs, request, format, **extra)


def _unsupported(resolved: ResolvedVersion, versions: Versions) -> UnsupportedVersion:
    supported = versions.supported()
    exc = UnsupportedVersion(
        f"API version {resolved.raw!r} is not supported; use one of: {', '.join(supported)}.",
        supported_versions=supported,
    )
    if resolved.source in _HEADER_SOURCES:
        # The resource exists; it cannot be represented in the version asked for.
        exc.status_code = 406
    return exc
