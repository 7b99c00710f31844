"""The NEXUS_API settings dict: documented defaults, typed access, reload on change.

Read settings through ``get_settings()``; never keep the result in a module global,
because ``override_settings`` in tests replaces it (``setting_changed`` clears it).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

SETTING_NAME = "NEXUS_API"


@dataclasses.dataclass(frozen=True)
class ApiSettings:
    #: Salt of the signature on pagination cursors. Change it to invalidate every cursor
    #: ever issued (rotating ``SECRET_KEY`` with ``SECRET_KEY_FALLBACKS`` keeps them valid).
    CURSOR_SALT: str = "nexus_api.keyset.cursor"
    #: Default count policy of the paginators and ``totalCount``: ``"none"`` (no COUNT query),
    #: ``"exact"``, ``"estimate"`` (PostgreSQL planner estimate) or ``"cached"``.
    COUNT_POLICY: str = "none"
    #: Seconds an exact count is cached under the ``"cached"`` policy.
    COUNT_CACHE_TIMEOUT: int = 60
    #: Deepest page ``PageNumberPagination`` serves; past it a 400 points to cursor paging.
    MAX_PAGE: int = 100
    #: Largest ``first``/``last`` a ``KeysetConnectionField`` accepts (a GraphQL error above).
    GRAPHQL_MAX_FIRST: int = 100
    #: Ordered mapping of version name -> options (``deprecated``, ``sunset`` as ISO dates,
    #: ``link``). Order matters: it is the upgrade path for version changes.
    VERSIONS: dict[str, dict[str, Any]] = dataclasses.field(default_factory=lambda: {"1": {}})
    #: The version served when a request names none; must be a key of ``VERSIONS``.
    DEFAULT_VERSION: str = "1"
    #: Page size when a view or paginator sets none. Unset, the paginators use DRF's
    #: ``REST_FRAMEWORK["PAGE_SIZE"]`` when that is set, else 50.
    PAGE_SIZE: int = 50
    #: Upper bound for ``?page_size=``; larger requests get this many rows.
    MAX_PAGE_SIZE: int = 500
    #: Prefix of every problem ``type`` URI (RFC 9457): the error code is appended in kebab
    #: case (``invalid_cursor`` -> ``<base>invalid-cursor``). The default is a relative
    #: reference, resolved against your API's host; point it at the page documenting your errors.
    PROBLEM_TYPE_BASE: str = "/problems/"
    #: Request header whose value becomes the problem's ``request_id`` (and is echoed back);
    #: when absent or malformed an id is generated. ``""`` disables reading it.
    REQUEST_ID_HEADER: str = "X-Request-ID"
    #: HTTP status of validation problems: 400 (DRF's) or 422 (Unprocessable Content).
    VALIDATION_ERROR_STATUS: int = 400
    #: Where ``NexusVersioning`` looks for the requested version, first match wins:
    #: ``"url"`` (the URL kwarg), ``"accept"`` (``Accept: ...; version=2``), ``"header"``
    #: (``VERSION_HEADER``), ``"query"`` (``?version=2``).
    VERSION_SOURCES: tuple[str, ...] = ("url", "accept", "header")
    #: Request header naming the version when the ``"header"`` source is enabled.
    VERSION_HEADER: str = "X-API-Version"
    #: Name of the URL kwarg, ``Accept`` parameter and query parameter carrying the version.
    VERSION_PARAM: str = "version"
    #: Answer requests for a version past its ``sunset`` date with 410 Gone. ``False`` keeps
    #: serving it (still announcing the sunset in headers).
    ENFORCE_SUNSET: bool = True


DEFAULTS: dict[str, Any] = {
    f.name: (f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default)
    for f in dataclasses.fields(ApiSettings)
}


def user_settings() -> Any:
    return getattr(settings, SETTING_NAME, {})


@functools.cache
def get_settings() -> ApiSettings:
    """The effective settings. Unknown keys and wrong values are reported by system checks
    (``nexus_api.E001``...) rather than raised here, so ``manage.py check`` lists every
    problem at once."""
    raw = user_settings()
    if not isinstance(raw, dict):
        return ApiSettings()
    return ApiSettings(**{k: v for k, v in raw.items() if k in DEFAULTS})


@receiver(setting_changed)
def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        get_settings.cache_clear()
