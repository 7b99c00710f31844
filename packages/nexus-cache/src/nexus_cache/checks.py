"""System checks for NEXUS_CACHE: misconfiguration is reported by ``manage.py check``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

from nexus_cache.conf import DEFAULTS, SETTING_NAME, user_settings

_TYPES: dict[str, tuple[type, ...]] = {
    "CACHE_ALIAS": (str,),
    "TIMEOUT": (int,),
    "KEY_PREFIX": (str,),
    "ENABLED": (bool,),
    "STAMPEDE_LOCK_TIMEOUT": (int, float),
    "FAIL_OPEN": (bool,),
    "STAMPEDE_PROTECTION": (bool,),
    "REPLICAS": (dict,),
    "REPLICA_LAG_GUARD": (int, float),
    "CIRCUIT_BREAKER_THRESHOLD": (int,),
    "CIRCUIT_BREAKER_COOLDOWN": (int, float),
    "RETRY_INTERVAL": (int, float),
    "TOKEN_TIMEOUT": (int,),
    "STATS_FLUSH_INTERVAL": (int, float),
    "IGNORE_TABLES": (list, tuple),
}


def _has_type(value: object, types: tuple[type, ...]) -> bool:
    # bool is a subclass of int, but TIMEOUT=True is a mistake, not one second.
    if isinstance(value, bool):
        return bool in types
    return isinstance(value, types)


@register(Tags.caches)
def check_settings(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    raw = user_settings()
    if not isinstance(raw, dict):
        return [
            Error(
                f"{SETTING_NAME} must be a dict, not {type(raw).__name__}.",
                hint=f"Set {SETTING_NAME} = {{...}} with keys from: {', '.join(sorted(DEFAULTS))}.",
                id="nexus_cache.E001",
            )
        ]
    errors: list[CheckMessage] = []
    for key in sorted(set(raw) - set(DEFAULTS)):
        errors.append(
            Error(
                f"{SETTING_NAME}[{key!r}] is not a nexus-cache setting.",
                hint=f"Known settings: {', '.join(sorted(DEFAULTS))}.",
                id="nexus_cache.E002",
            )
        )
    for key, types in _TYPES.items():
        if key in raw and not _has_type(raw[key], types):
            errors.append(
                Error(
                    f"{SETTING_NAME}[{key!r}] must be {' or '.join(t.__name__ for t in types)}, "
                    f"not {type(raw[key]).__name__}.",
                    id="nexus_cache.E003",
                )
            )
    timeout = raw.get("TIMEOUT", DEFAULTS["TIMEOUT"])
    if isinstance(timeout, int) and not isinstance(timeout, bool) and timeout <= 0:
        errors.append(
            Error(
                f"{SETTING_NAME}['TIMEOUT'] must be a positive number of seconds.",
                hint="Entries must expire so that a partition cannot keep stale data forever.",
                id="nexus_cache.E004",
            )
        )
    alias = raw.get("CACHE_ALIAS", DEFAULTS["CACHE_ALIAS"])
    if isinstance(alias, str) and alias not in settings.CACHES:
        errors.append(
            Error(
                f"{SETTING_NAME}['CACHE_ALIAS'] is {alias!r}, which is not defined in CACHES.",
                hint=f"Use one of: {', '.join(sorted(settings.CACHES)) or '(none defined)'}.",
                id="nexus_cache.E005",
            )
        )
    return errors
