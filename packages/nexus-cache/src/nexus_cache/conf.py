"""The NEXUS_CACHE settings dict: documented defaults, typed access, reload on change.

Read settings through ``get_settings()``; never cache the result in a module global,
because ``override_settings`` in tests replaces it (``setting_changed`` clears it).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

SETTING_NAME = "NEXUS_CACHE"


@dataclasses.dataclass(frozen=True)
class CacheSettings:
    #: Alias in ``CACHES`` that holds entries and generation tokens.
    CACHE_ALIAS: str = "default"
    #: Default timeout in seconds for cached values. Always finite: a full cache may evict
    #: anything, and staleness under a partition is bounded by it.
    TIMEOUT: int = 300
    #: Namespace for every key nexus-cache writes (together with the database alias and the
    #: package version).
    KEY_PREFIX: str = "nx"
    #: Master switch: when False every cached read goes straight to the source.
    ENABLED: bool = True
    #: Seconds one process may hold the recompute lock of a key before others stop waiting.
    STAMPEDE_LOCK_TIMEOUT: float = 10.0
    #: When True (the default) cache errors fall through to the source and are counted;
    #: when False they are raised, which is useful in tests.
    FAIL_OPEN: bool = True


DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(CacheSettings)}


def user_settings() -> Any:
    return getattr(settings, SETTING_NAME, {})


@functools.cache
def get_settings() -> CacheSettings:
    """The effective settings. Unknown keys and wrong types are reported by system checks
    (``nexus_cache.E001``/``E002``) rather than raised here, so ``manage.py check`` can list
    every problem at once."""
    raw = user_settings()
    if not isinstance(raw, dict):
        return CacheSettings()
    known = {k: v for k, v in raw.items() if k in DEFAULTS}
    return CacheSettings(**known)


@receiver(setting_changed)
def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting in (SETTING_NAME, "CACHES"):
        get_settings.cache_clear()
