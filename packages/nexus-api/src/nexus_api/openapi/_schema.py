"""``AutoSchema``: drf-spectacular's, plus what nexus-api adds to every operation.

- problem+json error responses, generated from what the view can actually raise:
  validation (400/422) for operations with a body, invalid cursor / page too deep (400)
  for nexus-api paginators, unsupported version (404 from the URL, 406 from headers) and
  sunset (410) for ``NexusVersioning`` views, throttling (429) when throttles are set;
- response headers: ``API-Version`` (+ ``Deprecation``/``Sunset``/``Link``) on versioned
  operations, the pagination ``Link`` header on paginated lists;
- the version header as a parameter on routes whose URL carries no version;
- operations of a deprecated version are marked ``deprecated``.
"""

from __future__ import annotations

import collections
import re
from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent

from nexus_api.conf import get_settings
from nexus_api.errors import PROBLEM_CONTENT_TYPE
from nexus_api.openapi._problems import (
    COMPONENTS,
    PROBLEM,
    UNSUPPORTED_VERSION_PROBLEM,
    VALIDATION_PROBLEM,
    VERSION_SUNSET_PROBLEM,
    example,
)
from nexus_api.versioning._scheme import NexusVersioning
from nexus_api.versioning._versions import ApiVersion, get_versions

__all__ = ["AutoSchema"]

_BODY_METHODS = ("POST", "PUT", "PATCH")


def _string(description: str, **extra: Any) -> dict[str, Any]:
    return {"schema": {"type": "string", **extra}, "description": description}


class AutoSchema(SpectacularAutoSchema):
    """``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "nexus_api.openapi.AutoSchema"``."""

    # -- versioning ---------------------------------------------------------------------

    def _nexus_version(self) -> ApiVersion | None:
        versioning = getattr(self.view, "versioning_class", None)
        if not (isinstance(versioning, type) and issubclass(versioning, NexusVersioning)):
            return None
        versions = get_versions()
        request = getattr(self.view, "request", None)
        return versions.get(getattr(request, "version", None)) or versions.default

    def _version_in_url(self) -> bool:
        # spectacular passes the route of path() ("api/<str:version>/") or the regex of re_path().
        param = re.escape(get_settings().VERSION_PARAM)
        route = getattr(self, "path_regex", "") or ""
        return re.search(rf"\(\?P<{param}>|<(?:\w+:)?{param}>", route) is not None

    def is_deprecated(self) -> bool:
        version = self._nexus_version()
        return bool(super().is_deprecated() or (version is not None and version.deprecated is not None))

    def _get_parameters(self) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super()._get_parameters()
        version = self._nexus_version()
        settings = get_settings()
        if version is None or self._version_in_url() or "header" not in settings.VERSION_SOURCES:
            return parameters
        if any(p.get("name") == settings.VERSION_HEADER and p.get("in") == "header" for p in parameters):
            return parameters
        default = get_versions().default
        parameters.append(
            {
                "in": "header",
                "name": settings.VERSION_HEADER,
                "schema": {"type": "string", "enum": [version.name]},
                "required": version is not default,
                "description": f"API version; without it, version {default.name} is served.",
            }
        )
        return parameters

    # -- response headers ---------------------------------------------------------------

    def _nexus_headers(self, status_code: str) -> dict[str, Any]:
        headers: dict[str, Any] = {}
        version = self._nexus_version()
        if version is not None:
            headers["API-Version"] = _string("The API version that served the request.", enum=[version.name])
            if version.deprecated is not None:
                headers["Deprecation"] = _string(
                    "RFC 9745: when this version was (or will be) deprecated, as @<unix seconds>.",
                    example=version.headers()["Deprecation"],
                )
            if version.sunset is not None:
                headers["Sunset"] = _string(
                    "RFC 8594: when this version stops being served (HTTP-date).",
                    example=version.headers()["Sunset"],
                )
            if version.link:
                headers["Link"] = _string(f'`<{version.link}>; rel="deprecation"` (migration guide).')
        if status_code.startswith("2") and self.method == "GET" and self._sends_link_header():
            deprecation = " Also carries the deprecation link." if "Link" in headers else ""
            headers["Link"] = _string(
                'RFC 8288 pagination links: rel="next", rel="prev" and rel="first".' + deprecation
            )
        return headers

    # -- paginated envelopes ------------------------------------------------------------

    def get_paginated_name(self, serializer_name: str) -> str:
        """drf-spectacular names a list's envelope ``Paginated<Serializer>List`` whatever the
        paginator, and keeps the first one registered under a name: two views sharing a
        serializer but not an envelope (keyset vs page numbers, counted or not) would both
        be documented with one of them. nexus-api's envelopes get a name per shape:
        ``Paginated<S>KeysetList`` / ``Paginated<S>CountedKeysetList`` for
        ``KeysetPagination``, ``Paginated<S>UncountedList`` for ``PageNumberPagination``
        without a count (with one its envelope is DRF's, and keeps DRF's name)."""
        return f"Paginated{serializer_name}{self._envelope_qualifier()}List"

    def _envelope_qualifier(self) -> str:
        from nexus_api.keyset import validate_policy
        from nexus_api.pagination import KeysetPagination, PageNumberPagination

        paginator = self._get_paginator()  # type: ignore[no-untyped-call]
        if isinstance(paginator, KeysetPagination):
            return "CountedKeyset" if validate_policy(paginator.count_policy) != "none" else "Keyset"
        if isinstance(paginator, PageNumberPagination) and validate_policy(paginator.count_policy) == "none":
            return "Uncounted"
        return ""

    def _sends_link_header(self) -> bool:
        if not self._is_list_view():
            return False
        from nexus_api.pagination import KeysetPagination, PageNumberPagination

        return isinstance(self._get_paginator(), KeysetPagination | PageNumberPagination)  # type: ignore[no-untyped-call]

    def _get_response_headers_for_code(self, status_code: str, direction: str = "response") -> dict[str, Any]:
        headers: dict[str, Any] = super()._get_response_headers_for_code(status_code, direction)
        for name, header in self._nexus_headers(str(status_code)).items():
            headers.setdefault(name, header)
        return headers

    # -- problem responses --------------------------------------------------------------

    def _component(self, name: str) -> dict[str, Any]:
        for dependency in (PROBLEM, name):
            self.registry.register_on_missing(
                ResolvedComponent(  # type: ignore[no-untyped-call]
                    name=dependency,
                    type=ResolvedComponent.SCHEMA,
                    schema=COMPONENTS[dependency],
                    object=f"nexus_api.openapi.{dependency}",
                )
            )
        return {"$ref": f"#/components/schemas/{name}"}

    def _possible_problems(self) -> list[tuple[int, str, dict[str, Any]]]:
        """(status, component, example) for every problem this operation can answer with."""
        problems: list[tuple[int, str, dict[str, Any]]] = []
        settings = get_settings()
        version = self._nexus_version()
        if version is not None:
            supported = get_versions().supported()
            unsupported: dict[str, Any] = {
                "title": "Unsupported API version",
                "detail": f"API version '9' is not supported; use one of: {', '.join(supported)}.",
                "supported_versions": supported,
            }
            if self._version_in_url():
                problems.append(
                    (404, UNSUPPORTED_VERSION_PROBLEM, example("unsupported_version", 404, **unsupported))
                )
            if {"accept", "header"} & set(settings.VERSION_SOURCES):
                problems.append(
                    (406, UNSUPPORTED_VERSION_PROBLEM, example("unsupported_version", 406, **unsupported))
                )
            if version.sunset is not None and settings.ENFORCE_SUNSET:
                sunset = version.sunset.date().isoformat()
                problems.append(
                    (
                        410,
                        VERSION_SUNSET_PROBLEM,
                        example(
                            "version_sunset",
                            410,
                            "API version retired",
                            f"API version {version.name} was retired on {sunset}.",
                            version=version.name,
                            sunset=sunset,
                            supported_versions=supported,
                        ),
                    )
                )
        if self.method in _BODY_METHODS and self._get_request_body():  # type: ignore[no-untyped-call]
            status = settings.VALIDATION_ERROR_STATUS
            problems.append(
                (
                    status,
                    VALIDATION_PROBLEM,
                    example(
                        "invalid",
                        status,
                        "Invalid input",
                        "Invalid input in 1 field: name.",
                        errors={"name": ["This field is required."]},
                    ),
                )
            )
        if self.method == "GET" and self._is_list_view():
            problems += self._pagination_problems()
        if getattr(self.view, "throttle_classes", None):
            problems.append(
                (
                    429,
                    PROBLEM,
                    example(
                        "throttled",
                        429,
                        "Request was throttled",
                        "Expected available in 30 seconds.",
                        retry_after=30,
                    ),
                )
            )
        return problems

    def _pagination_problems(self) -> list[tuple[int, str, dict[str, Any]]]:
        from nexus_api.pagination import InvalidCursor, KeysetPagination, PageNumberPagination, PageTooDeep

        paginator = self._get_paginator()  # type: ignore[no-untyped-call]
        if isinstance(paginator, KeysetPagination):
            exc: type[InvalidCursor | PageTooDeep] = InvalidCursor
        elif isinstance(paginator, PageNumberPagination):
            exc = PageTooDeep
        else:
            return []
        title = str(exc.default_detail).split(";")[0].split(".")[0]
        return [
            (
                exc.status_code,
                PROBLEM,
                example(str(exc.default_code), exc.status_code, title, str(exc.default_detail)),
            )
        ]

    def _problem_responses(self) -> dict[str, dict[str, Any]]:
        by_status: dict[int, list[tuple[str, dict[str, Any]]]] = collections.defaultdict(list)
        for status, component, sample in self._possible_problems():
            by_status[status].append((component, sample))
        responses: dict[str, dict[str, Any]] = {}
        request_id_header = get_settings().REQUEST_ID_HEADER
        for status, entries in sorted(by_status.items()):
            refs: list[dict[str, Any]] = []
            for component, _ in entries:
                ref = self._component(component)
                if ref not in refs:
                    refs.append(ref)
            headers = {
                name: header for name, header in self._nexus_headers(str(status)).items() if name != "Link"
            }
            if request_id_header:
                headers[request_id_header] = _string("The problem's request_id.")
            if status == 429:
                headers["Retry-After"] = {"schema": {"type": "integer"}, "description": "Seconds to wait."}
            responses[str(status)] = {
                "description": " / ".join(sample["title"] for _, sample in entries),
                "headers": headers,
                "content": {
                    PROBLEM_CONTENT_TYPE: {
                        "schema": refs[0] if len(refs) == 1 else {"oneOf": refs},
                        "examples": {
                            sample["code"].replace("_", "-"): {"summary": sample["title"], "value": sample}
                            for _, sample in entries
                        },
                    }
                },
            }
        return responses

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)  # type: ignore[arg-type]
        for status, response in self._problem_responses().items():
            # Responses declared with @extend_schema win over the generated ones.
            responses.setdefault(status, response)
        return responses
