"""``VersionHeadersMiddleware``: version headers on responses DRF never finalized.

``NexusVersioning`` already adds ``API-Version``/``Deprecation``/``Sunset``/``Link``/
``Vary`` to every response a DRF view returns, errors included. Responses produced
elsewhere lose them: Django's ``ConditionalGetMiddleware`` turns a 200 into a 304 keeping
only a few headers, and a response cache may answer before the view runs. Put this
middleware *above* those in ``MIDDLEWARE`` and such responses carry the headers too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponseBase

from nexus_api.versioning._scheme import (
    NexusVersioning,
    apply_version_headers,
    get_resolved_version,
    resolve_request_version,
)

__all__ = ["VersionHeadersMiddleware"]


def _uses_nexus_versioning(request: HttpRequest) -> bool:
    match = getattr(request, "resolver_match", None)
    view_class = getattr(getattr(match, "func", None), "cls", None)
    versioning = getattr(view_class, "versioning_class", None)
    return isinstance(versioning, type) and issubclass(versioning, NexusVersioning)


class VersionHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        resolved = get_resolved_version(request)
        if resolved is None and _uses_nexus_versioning(request):
            # The view never ran (a cache answered): resolve the version the same way.
            match: Any = request.resolver_match
            resolved = resolve_request_version(request, match.kwargs if match else {})
        if resolved is not None and resolved.version is not None:
            apply_version_headers(response, resolved)
        return response
