"""DRF paginators that stay fast and correct at any depth.

``KeysetPagination`` pages by the values of the last row (signed cursors, any ordering,
NULL-safe, pk tie-breaker) so a page costs the same at depth 10,000 as at depth 1.
``PageNumberPagination`` is DRF's page-number interface with a choice of count policy and
a maximum page, because a deep ``OFFSET`` reads and discards every row before the page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework import pagination as drf_pagination
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from nexus_api.conf import get_settings, user_settings
from nexus_api.keyset import (
    CursorError,
    Keyset,
    Page,
    count_rows,
    normalize_ordering,
    queryset_ordering,
    validate_policy,
)

__all__ = ["InvalidCursor", "KeysetPagination", "PageNumberPagination", "PageTooDeep"]

#: Query parameters that never change which rows a list holds, so cursors do not bind to them.
_UNBOUND_PARAMS = frozenset({"format"})


class InvalidCursor(APIException):
    """The ``cursor`` query parameter cannot be used (tampered, truncated, expired key,
    or issued for another ordering or filter). The client should restart from the list's
    first page; the server never does so silently."""

    status_code = 400
    default_detail = _("The cursor is invalid. Drop the cursor parameter to start again from the first page.")
    default_code = "invalid_cursor"


class PageTooDeep(APIException):
    """A page number past ``max_page``: deep ``OFFSET`` reads every skipped row."""

    status_code = 400
    default_detail = _("This page is too deep for page-number pagination; use cursor pagination.")
    default_code = "page_too_deep"


def _default_page_size() -> int:
    """``NEXUS_API["PAGE_SIZE"]`` when set, else DRF's ``REST_FRAMEWORK["PAGE_SIZE"]`` (what
    DRF's own paginators use), else the documented default."""
    user = user_settings()
    drf_size = api_settings.PAGE_SIZE
    if (isinstance(user, dict) and "PAGE_SIZE" in user) or not (isinstance(drf_size, int) and drf_size > 0):
        return get_settings().PAGE_SIZE
    return drf_size


def _page_size(request: Request, param: str | None, default: int | None, cap: int | None) -> int:
    settings = get_settings()
    size = default or _default_page_size()
    limit = cap or settings.MAX_PAGE_SIZE
    if param:
        raw = request.query_params.get(param)
        if raw:
            try:
                requested = int(raw)
            except ValueError:
                requested = 0
            if requested > 0:
                size = requested
    return max(1, min(size, limit))


def _page_size_schema(cap: int | None) -> dict[str, Any]:
    return {"type": "integer", "minimum": 1, "maximum": cap or get_settings().MAX_PAGE_SIZE}


def _require_queryset(queryset: models.QuerySet[Any] | Sequence[Any]) -> models.QuerySet[Any]:
    if not isinstance(queryset, models.QuerySet):
        raise TypeError(
            f"nexus-api paginators page QuerySets (they order and filter in the database), "
            f"not {type(queryset).__name__}: return a QuerySet from the view's get_queryset()."
        )
    return queryset


def _link_header(links: Sequence[tuple[str, str | None]]) -> str:
    return ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links if url)


class _QueryLinks:
    """URLs that differ from the request's only in the value of one query parameter.

    A page carries up to four such links (body and ``Link`` header); DRF's
    ``replace_query_param`` would re-parse the URL for each. This parses it once and
    produces the same URLs (other parameters sorted by name, as DRF does).
    """

    def __init__(self, url: str, param: str) -> None:
        self.url = url
        self.param = param
        scheme, netloc, path, query, fragment = urlsplit(url)
        self._parts = (scheme, netloc, path, fragment)
        others = parse_qs(query, keep_blank_values=True)
        self.present = others.pop(param, None) is not None
        before = [(key, values) for key, values in sorted(others.items()) if key < param]
        after = [(key, values) for key, values in sorted(others.items()) if key > param]
        self._before = urlencode(before, doseq=True)
        self._after = urlencode(after, doseq=True)

    def _build(self, query: str) -> str:
        scheme, netloc, path, fragment = self._parts
        return urlunsplit((scheme, netloc, path, query, fragment))

    def with_value(self, value: object) -> str:
        """The URL with ``param`` set to ``value``."""
        pair = urlencode([(self.param, str(value))])
        return self._build("&".join(part for part in (self._before, pair, self._after) if part))

    def without(self) -> str:
        """The URL without ``param``."""
        return self._build("&".join(part for part in (self._before, self._after) if part))


class KeysetPagination(drf_pagination.BasePagination):
    """Cursor pagination on any ordering, with signed cursors bound to the list.

    The ordering comes from ``?ordering=`` (only fields in the view's ``ordering_fields``),
    else the view's ``ordering``, else this class's ``ordering``, else the queryset's
    ``order_by()``, else the model's ``Meta.ordering``, else the primary key; the primary key
    is always appended as the tie-breaker. The matching index is the ordering's columns
    followed by the primary key, e.g. ``Index(fields=["-created_at", "id"])``.
    """

    #: Rows per page; ``None`` uses ``NEXUS_API["PAGE_SIZE"]`` (or DRF's ``PAGE_SIZE``).
    page_size: int | None = None
    #: Cap for ``?page_size=``; ``None`` uses ``NEXUS_API["MAX_PAGE_SIZE"]``. Always enforced.
    max_page_size: int | None = None
    page_size_query_param: str | None = "page_size"
    cursor_query_param = "cursor"
    ordering_query_param = "ordering"
    #: Fallback ordering when the view declares none.
    ordering: str | Sequence[str] | None = None
    #: ``"none"``, ``"exact"``, ``"estimate"`` or ``"cached"``; ``None`` uses ``NEXUS_API["COUNT_POLICY"]``.
    count_policy: str | None = None

    cursor_query_description = _("The pagination cursor value (from the next or previous link).")
    page_size_query_description = _("Number of results to return per page.")
    ordering_query_description = _("Fields to order by, comma separated; prefix with - for descending.")

    def __init__(self) -> None:
        self.request: Request | None = None
        self.keyset: Keyset | None = None
        self.page: Page[Any] | None = None
        self.count: int | None = None
        self._links: _QueryLinks | None = None

    # Configuration -----------------------------------------------------------------------

    def get_page_size(self, request: Request) -> int:
        return _page_size(request, self.page_size_query_param, self.page_size, self.max_page_size)

    def get_ordering_fields(self, view: APIView | None, queryset: models.QuerySet[Any]) -> set[str] | None:
        """Names ``?ordering=`` may use; ``None`` when the view accepts no ``?ordering=``."""
        fields = getattr(view, "ordering_fields", None)
        if fields is None:
            return None
        if fields == "__all__":
            names = {f.name for f in queryset.model._meta.concrete_fields if not f.is_relation}
            return names | set(queryset.query.annotations)
        return set(normalize_ordering(fields))

    def get_ordering(
        self, request: Request, queryset: models.QuerySet[Any], view: APIView | None = None
    ) -> tuple[str, ...]:
        raw = request.query_params.get(self.ordering_query_param, "") if self.ordering_query_param else ""
        if raw.strip():
            allowed = self.get_ordering_fields(view, queryset)
            terms = normalize_ordering(raw.split(","))
            if allowed is None:
                raise ValidationError(
                    {
                        self.ordering_query_param: [
                            f"This list cannot be reordered; drop ?{self.ordering_query_param}=."
                        ]
                    },
                    code="invalid_ordering",
                )
            rejected = [term for term in terms if term.removeprefix("-") not in allowed]
            if rejected:
                raise ValidationError(
                    {
                        self.ordering_query_param: [
                            f"Cannot order by {', '.join(rejected)}; allowed: {', '.join(sorted(allowed))} "
                            f"(prefix - for descending)."
                        ]
                    },
                    code="invalid_ordering",
                )
            return terms
        for candidate in (getattr(view, "ordering", None), self.ordering):
            terms = normalize_ordering(candidate)
            if terms:
                return terms
        return queryset_ordering(queryset)

    def get_binding(self, request: Request, view: APIView | None) -> list[Any]:
        """What a cursor is bound to besides model and ordering: the endpoint and every query
        parameter that can change which rows the list holds (filters, search), so that a
        cursor replayed against another list is refused instead of paging it from a
        position that means nothing there. Override to leave out parameters that only
        shape each row (e.g. ``?fields=``)."""
        ignored = {self.cursor_query_param, self.page_size_query_param, *_UNBOUND_PARAMS}
        params = sorted(
            (name, sorted(request.query_params.getlist(name)))
            for name in request.query_params
            if name not in ignored
        )
        return [request.path_info, params]

    # Paging ------------------------------------------------------------------------------

    def paginate_queryset(
        self, queryset: models.QuerySet[Any] | Sequence[Any], request: Request, view: APIView | None = None
    ) -> list[Any]:
        queryset = _require_queryset(queryset)
        self.request = request
        self._links = None
        size = self.get_page_size(request)
        keyset = Keyset.for_queryset(
            queryset, self.get_ordering(request, queryset, view), binding=self.get_binding(request, view)
        )
        token = request.query_params.get(self.cursor_query_param)
        cursor = None
        if token:
            try:
                cursor = keyset.decode(token)
            except CursorError as exc:
                raise InvalidCursor(
                    f"Invalid cursor: {exc}. Drop the {self.cursor_query_param} parameter to start "
                    f"again from the first page."
                ) from exc
        self.keyset = keyset
        self.page = keyset.page(queryset, size=size, cursor=cursor)
        self.count = count_rows(queryset, self.count_policy)
        return self.page.rows

    def _url(self, token: str | None) -> str | None:
        if token is None or self.request is None:
            return None
        return self._query_links().with_value(token)

    def _query_links(self) -> _QueryLinks:
        # Built once per response: the three links (and the Link header) derive from it.
        assert self.request is not None
        if self._links is None:
            self._links = _QueryLinks(self.request.build_absolute_uri(), self.cursor_query_param)
        return self._links

    def get_next_link(self) -> str | None:
        assert self.keyset is not None
        assert self.page is not None
        return self._url(self.keyset.next_cursor(self.page))

    def get_previous_link(self) -> str | None:
        assert self.keyset is not None
        assert self.page is not None
        return self._url(self.keyset.previous_cursor(self.page))

    def get_first_link(self) -> str | None:
        if self.request is None:
            return None
        links = self._query_links()
        return links.without() if links.present else links.url

    def get_paginated_response(self, data: Any) -> Response:
        next_link, previous_link = self.get_next_link(), self.get_previous_link()
        body: dict[str, Any] = {"results": data, "next": next_link, "previous": previous_link}
        if self.count is not None:
            body["count"] = self.count
        links = [("next", next_link), ("prev", previous_link), ("first", self.get_first_link())]
        return Response(body, headers={"Link": _link_header(links)})

    # OpenAPI -----------------------------------------------------------------------------

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "format": "uri", "nullable": True}
        properties: dict[str, Any] = {
            "results": schema,
            "next": {**link, "example": f"http://api.example.org/items/?{self.cursor_query_param}=eyJ...x"},
            "previous": {**link, "example": None},
        }
        required = ["results", "next", "previous"]
        if validate_policy(self.count_policy) != "none":
            properties["count"] = {"type": "integer", "example": 123}
            required.append("count")
        return {"type": "object", "required": required, "properties": properties}

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": str(self.cursor_query_description),
                "schema": {"type": "string"},
            }
        ]
        if self.page_size_query_param:
            parameters.append(
                {
                    "name": self.page_size_query_param,
                    "required": False,
                    "in": "query",
                    "description": str(self.page_size_query_description),
                    "schema": _page_size_schema(self.max_page_size),
                }
            )
        fields = getattr(view, "ordering_fields", None)
        if self.ordering_query_param and fields:
            names = sorted(normalize_ordering(fields)) if fields != "__all__" else []
            description = str(self.ordering_query_description)
            if names:
                description += " Allowed: " + ", ".join(names) + "."
            parameters.append(
                {
                    "name": self.ordering_query_param,
                    "required": False,
                    "in": "query",
                    "description": description,
                    "schema": {"type": "string"},
                }
            )
        return parameters


class PageNumberPagination(drf_pagination.PageNumberPagination):
    """DRF's page-number pagination with count policies and a maximum page.

    Under the ``"none"`` count policy the paginator fetches one extra row to know whether a
    next page exists, so it runs no ``COUNT(*)``; ``?page=last`` then is a 404. Past
    ``max_page`` a 400 tells the client to switch to cursor pagination.
    """

    #: Rows per page; ``None`` uses ``NEXUS_API["PAGE_SIZE"]`` (or DRF's ``PAGE_SIZE``).
    page_size: int | None = None
    #: Cap for ``?page_size=``; ``None`` uses ``NEXUS_API["MAX_PAGE_SIZE"]``. Always enforced.
    max_page_size: int | None = None
    page_size_query_param: str | None = "page_size"
    #: Deepest page served; ``None`` uses ``NEXUS_API["MAX_PAGE"]``.
    max_page: int | None = None
    #: ``"none"``, ``"exact"``, ``"estimate"`` or ``"cached"``; ``None`` uses ``NEXUS_API["COUNT_POLICY"]``.
    count_policy: str | None = None

    def __init__(self) -> None:
        self.request: Request | None = None
        self.number = 1
        self.count: int | None = None
        self.has_next = False
        self.size = 0
        self._links: _QueryLinks | None = None

    def get_page_size(self, request: Request) -> int:
        return _page_size(request, self.page_size_query_param, self.page_size, self.max_page_size)

    def get_max_page(self) -> int:
        return self.max_page or get_settings().MAX_PAGE

    def paginate_queryset(
        self, queryset: models.QuerySet[Any] | Sequence[Any], request: Request, view: APIView | None = None
    ) -> list[Any]:
        queryset = _require_queryset(queryset)
        self.request = request
        self._links = None
        self.size = size = self.get_page_size(request)
        if not queryset.ordered:
            # Without a total order the same row can appear on two pages.
            queryset = queryset.order_by("pk")
        raw = request.query_params.get(self.page_query_param) or "1"
        self.count = count_rows(queryset, self.count_policy)
        if raw in self.last_page_strings:
            if self.count is None:
                raise NotFound(
                    _(
                        "The last page is not available: this list is not counted. Follow the next links instead."
                    )
                )
            number = max(1, math.ceil(self.count / size))
        else:
            try:
                number = int(raw)
            except ValueError:
                number = 0
            if number < 1:
                raise NotFound(self.invalid_page_message.format(page_number=raw, message=_("Invalid page.")))
        max_page = self.get_max_page()
        if number > max_page:
            raise PageTooDeep(
                f"Page {number} is past the deepest page served by page-number pagination ({max_page}). "
                f"Use cursor pagination (KeysetPagination: follow the next links from the first page) "
                f"to read further."
            )
        offset = (number - 1) * size
        if self.count is not None and number > 1 and offset >= self.count:
            raise NotFound(
                self.invalid_page_message.format(page_number=raw, message=_("That page contains no results"))
            )
        rows = list(queryset[offset : offset + size + (1 if self.count is None else 0)])
        if self.count is None:
            self.has_next = len(rows) > size
            del rows[size:]
        else:
            self.has_next = offset + size < self.count
        self.number = number
        return rows

    def _query_links(self) -> _QueryLinks:
        assert self.request is not None
        if self._links is None:
            self._links = _QueryLinks(self.request.build_absolute_uri(), self.page_query_param)
        return self._links

    def get_next_link(self) -> str | None:
        if not self.has_next or self.request is None:
            return None
        return self._query_links().with_value(self.number + 1)

    def get_previous_link(self) -> str | None:
        if self.number <= 1 or self.request is None:
            return None
        if self.number == 2:
            return self._query_links().without()
        return self._query_links().with_value(self.number - 1)

    def get_paginated_response(self, data: Any) -> Response:
        next_link, previous_link = self.get_next_link(), self.get_previous_link()
        body: dict[str, Any] = {}
        if self.count is not None:
            body["count"] = self.count
        body.update({"next": next_link, "previous": previous_link, "results": data})
        links: list[tuple[str, str | None]] = [
            ("next", next_link),
            ("prev", previous_link),
            ("first", self._query_links().without()),
        ]
        if self.count is not None:
            last = min(max(1, math.ceil(self.count / self.size)), self.get_max_page())
            links.append(("last", self._query_links().with_value(last)))
        return Response(body, headers={"Link": _link_header(links)})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        response = super().get_paginated_response_schema(schema)
        if validate_policy(self.count_policy) == "none":
            response["properties"].pop("count", None)
            response["required"] = [name for name in response.get("required", []) if name != "count"]
        return response

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.get_max_page()}
            elif parameter["name"] == self.page_size_query_param:
                parameter["schema"] = _page_size_schema(self.max_page_size)
        return parameters
