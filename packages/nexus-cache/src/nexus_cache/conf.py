"""The NEXUS_CACHE settings dict: documented defaults, typed access, reload on change.

Read settings through ``get_settings()``; never cache the result in a module global,
because ``override_settings`` in tests replaces it (``setting_changed`` clears it).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
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
    #: Whether a miss takes a short lock so that only one process recomputes a key while
    #: the others wait (at most ``STAMPEDE_LOCK_TIMEOUT``) for its value.
    STAMPEDE_PROTECTION: bool = True
    #: Database aliases that are read replicas, mapped to their primary: a write on the
    #: primary invalidates reads from the replica (tokens live in the primary's namespace).
    #: Aliases whose ``TEST["MIRROR"]`` is set are mapped automatically.
    REPLICAS: dict[str, str] = dataclasses.field(default_factory=dict)
    #: Seconds after a commit at which the tokens are replaced a second time, so that a
    #: replica that applied the write late cannot leave a value computed before it applied
    #: it in the cache. 0 disables the guard.
    REPLICA_LAG_GUARD: float = 0.0
    #: Consecutive cache errors after which the cache is skipped entirely (reads go to the
    #: database at no cost) for ``CIRCUIT_BREAKER_COOLDOWN`` seconds.
    CIRCUIT_BREAKER_THRESHOLD: int = 2
    #: Seconds the circuit stays open before the cache is tried again.
    CIRCUIT_BREAKER_COOLDOWN: float = 2.0
    #: Seconds between retries of token replacements that failed (cache down at commit).
    RETRY_INTERVAL: float = 1.0
    #: Lifetime of a generation token in seconds. An expired token only costs misses.
    TOKEN_TIMEOUT: int = 7 * 24 * 3600
    #: Seconds between flushes of this process's counters to the shared cache (``stats()``).
    STATS_FLUSH_INTERVAL: float = 1.0
    #: Tables whose writes never invalidate anything (e.g. ``django_session``). Reads of
    #: them are still tracked. Use only for tables no cached value reads.
    IGNORE_TABLES: tuple[str, ...] = ()
    #: PostgreSQL: end each write statement whose invalidation nexus-cache handles with a
    #: comment naming its tables (``/*nexus_cache:listings_listing*/``), so that the
    #: ``contrib.postgres`` triggers send no NOTIFY for it and the listener does not
    #: invalidate the whole table a second time.
    TAG_HANDLED_WRITES: bool = True


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


DEFAULTS: dict[str, Any] = {f.name: _default(f) for f in dataclasses.fields(CacheSettings)}


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
    if "IGNORE_TABLES" in known and isinstance(known["IGNORE_TABLES"], list):
        known["IGNORE_TABLES"] = tuple(known["IGNORE_TABLES"])
    return CacheSettings(**known)


@receiver(setting_changed)
def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting in (SETTING_NAME, "CACHES", "DATABASES"):
        get_settings.cache_clear()
        for hook in _reload_hooks:
            hook()


#: Internal caches derived from settings register here to be cleared with them.
_reload_hooks: list[Callable[[], object]] = []
