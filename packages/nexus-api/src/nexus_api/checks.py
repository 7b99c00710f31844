"""System checks for NEXUS_API: misconfiguration is reported by ``manage.py check``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error, register

from nexus_api.conf import DEFAULTS, SETTING_NAME, user_settings

_TYPES: dict[str, tuple[type, ...]] = {
    "CURSOR_SALT": (str,),
    "COUNT_POLICY": (str,),
    "COUNT_CACHE_TIMEOUT": (int,),
    "MAX_PAGE": (int,),
    "GRAPHQL_MAX_FIRST": (int,),
    "VERSIONS": (dict,),
    "DEFAULT_VERSION": (str,),
    "PAGE_SIZE": (int,),
    "MAX_PAGE_SIZE": (int,),
    "PROBLEM_TYPE_BASE": (str,),
    "REQUEST_ID_HEADER": (str,),
    "VALIDATION_ERROR_STATUS": (int,),
    "VERSION_SOURCES": (list, tuple),
    "VERSION_HEADER": (str,),
    "VERSION_PARAM": (str,),
    "ENFORCE_SUNSET": (bool,),
}


def _has_type(value: object, types: tuple[type, ...]) -> bool:
    # bool is a subclass of int, but PAGE_SIZE=True is a mistake, not one row.
    if isinstance(value, bool):
        return bool in types
    return isinstance(value, types)


@register()
def check_settings(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    raw = user_settings()
    if not isinstance(raw, dict):
        return [
            Error(
                f"{SETTING_NAME} must be a dict, not {type(raw).__name__}.",
                hint=f"Set {SETTING_NAME} = {{...}} with keys from: {', '.join(sorted(DEFAULTS))}.",
                id="nexus_api.E001",
            )
        ]
    errors: list[CheckMessage] = []
    for key in sorted(set(raw) - set(DEFAULTS)):
        errors.append(
            Error(
                f"{SETTING_NAME}[{key!r}] is not a nexus-api setting.",
                hint=f"Known settings: {', '.join(sorted(DEFAULTS))}.",
                id="nexus_api.E002",
            )
        )
    for key, types in _TYPES.items():
        if key in raw and not _has_type(raw[key], types):
            errors.append(
                Error(
                    f"{SETTING_NAME}[{key!r}] must be {' or '.join(t.__name__ for t in types)}, "
                    f"not {type(raw[key]).__name__}.",
                    id="nexus_api.E003",
                )
            )
    versions = raw.get("VERSIONS", DEFAULTS["VERSIONS"])
    default = raw.get("DEFAULT_VERSION", DEFAULTS["DEFAULT_VERSION"])
    if isinstance(versions, dict) and isinstance(default, str) and default not in versions:
        errors.append(
            Error(
                f"{SETTING_NAME}['DEFAULT_VERSION'] is {default!r}, which is not in VERSIONS.",
                hint=f"Use one of: {', '.join(repr(v) for v in versions) or '(no versions declared)'}.",
                id="nexus_api.E004",
            )
        )
    page, cap = (
        raw.get("PAGE_SIZE", DEFAULTS["PAGE_SIZE"]),
        raw.get("MAX_PAGE_SIZE", DEFAULTS["MAX_PAGE_SIZE"]),
    )
    if _has_type(page, (int,)) and _has_type(cap, (int,)) and not 0 < page <= cap:
        errors.append(
            Error(
                f"{SETTING_NAME}['PAGE_SIZE'] ({page}) must be positive and at most MAX_PAGE_SIZE ({cap}).",
                id="nexus_api.E005",
            )
        )
    return errors


_COUNT_POLICIES = ("none", "exact", "estimate", "cached")


@register()
def check_pagination_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Pagination settings whose wrong value would otherwise surface only on a request."""
    raw = user_settings()
    if not isinstance(raw, dict):
        return []  # reported as nexus_api.E001
    errors: list[CheckMessage] = []
    policy = raw.get("COUNT_POLICY", DEFAULTS["COUNT_POLICY"])
    if isinstance(policy, str) and policy not in _COUNT_POLICIES:
        errors.append(
            Error(
                f"{SETTING_NAME}['COUNT_POLICY'] is {policy!r}, which is not a count policy.",
                hint=f"Use one of: {', '.join(repr(p) for p in _COUNT_POLICIES)}.",
                id="nexus_api.E010",
            )
        )
    for key in ("COUNT_CACHE_TIMEOUT", "MAX_PAGE", "GRAPHQL_MAX_FIRST"):
        value = raw.get(key, DEFAULTS[key])
        if _has_type(value, (int,)) and value <= 0:
            errors.append(
                Error(
                    f"{SETTING_NAME}[{key!r}] must be a positive integer, not {value}.", id="nexus_api.E011"
                )
            )
    return errors


# Versioning and problem-details checks (ids nexus_api.E020-E029, W020-W029) live with the code they check.
from nexus_api.versioning import _checks as _versioning_checks  # noqa: E402, F401
