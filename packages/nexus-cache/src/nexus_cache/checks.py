"""System checks for NEXUS_CACHE: misconfiguration is reported by ``manage.py check``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Info, Tags, Warning, register

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
    "TAG_HANDLED_WRITES": (bool,),
}


def _has_type(value: object, types: tuple[type, ...]) -> bool:
    # bool is a subclass of int, but TIMEOUT=True is a mistake, not one second.
    if isinstance(value, bool):
        return bool in types
    return isinstance(value, types)


_MAX_PREFIX = 64


def _key_prefix_ok(prefix: str) -> bool:
    return 0 < len(prefix) <= _MAX_PREFIX and all(32 < ord(c) != 127 for c in prefix)


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
    prefix = raw.get("KEY_PREFIX", DEFAULTS["KEY_PREFIX"])
    if isinstance(prefix, str) and not _key_prefix_ok(prefix):
        errors.append(
            Error(
                f"{SETTING_NAME}['KEY_PREFIX'] is {prefix!r}: it must be 1 to {_MAX_PREFIX} characters "
                "without spaces or control characters.",
                hint="It starts every key nexus-cache writes; memcached rejects keys longer than 250 "
                "characters or containing whitespace, and Django warns about them on every backend.",
                id="nexus_cache.E007",
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


_LOCMEM = "django.core.cache.backends.locmem.LocMemCache"
_DUMMY = "django.core.cache.backends.dummy.DummyCache"
_FILE = "django.core.cache.backends.filebased.FileBasedCache"


@register(Tags.caches)
def check_backend(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """The cache backend must be able to do what the settings ask of it."""
    raw = user_settings()
    if not isinstance(raw, dict):
        return []
    alias = raw.get("CACHE_ALIAS", DEFAULTS["CACHE_ALIAS"])
    config = settings.CACHES.get(alias) if isinstance(alias, str) else None
    if not config:
        return []
    backend = config.get("BACKEND", "")
    messages: list[CheckMessage] = []
    if backend == _LOCMEM and not settings.DEBUG:
        messages.append(
            Warning(
                f"CACHES[{alias!r}] is LocMemCache: every process has its own copy, so a write in one "
                "process (a web worker, a Celery worker) does not invalidate what another cached.",
                hint="With more than one process use a shared cache: django-redis, Memcached, the "
                "file-based or the database cache. (This warning is silent under DEBUG.)",
                id="nexus_cache.W001",
            )
        )
    if backend == _DUMMY:
        messages.append(
            Warning(
                f"CACHES[{alias!r}] is DummyCache: nexus-cache will never serve a cached value.",
                hint=f"Point {SETTING_NAME}['CACHE_ALIAS'] at a real cache, or set ENABLED to False.",
                id="nexus_cache.W002",
            )
        )
    prefix = raw.get("KEY_PREFIX", DEFAULTS["KEY_PREFIX"])
    if _looks_like_cluster(config) and isinstance(prefix, str) and not _one_slot(config, prefix):
        messages.append(
            Error(
                f"CACHES[{alias!r}] looks like a Redis Cluster, and nexus-cache's keys would fall in "
                "different hash slots: a hit reads an entry and its tokens in one command, which a "
                "cluster only runs within one slot.",
                hint=f"Put a hash tag in the prefix, e.g. {SETTING_NAME}['KEY_PREFIX'] = '{{nx}}' (every "
                "nexus-cache key then lives in one slot), or give nexus-cache a cache alias on a single "
                "Redis primary.",
                id="nexus_cache.E008",
            )
        )
    if backend == _FILE and raw.get("STAMPEDE_PROTECTION", True):
        messages.append(
            Info(
                f"CACHES[{alias!r}] is FileBasedCache, whose add() is not atomic across processes: "
                "stampede protection is best effort there (correctness is unaffected).",
                hint=f"Use Redis or Memcached for strict single-flight, or set {SETTING_NAME}"
                "['STAMPEDE_PROTECTION'] = False to silence this.",
                id="nexus_cache.I001",
            )
        )
    return messages


def _looks_like_cluster(config: dict[str, Any]) -> bool:
    """A cluster client can only be recognised by name without connecting: django-redis and
    django-valkey take it through these options (``redis.cluster.RedisCluster``, a
    ``...ClusterClient``, a cluster connection factory)."""
    options = config.get("OPTIONS") or {}
    candidates = [
        config.get("BACKEND"),
        getattr(settings, "DJANGO_REDIS_CONNECTION_FACTORY", None),
        *(options.get(name) for name in ("CLIENT_CLASS", "REDIS_CLIENT_CLASS", "CONNECTION_FACTORY")),
    ]
    for candidate in candidates:
        if isinstance(candidate, type):
            candidate = f"{candidate.__module__}.{candidate.__qualname__}"
        if isinstance(candidate, str) and "cluster" in candidate.lower():
            return True
    return False


def _one_slot(config: dict[str, Any], nexus_prefix: str) -> bool:
    from django.core.cache.backends.base import get_key_func

    try:
        from redis.crc import key_slot
    except ImportError:  # pragma: no cover - a cluster client without redis-py
        return True
    key_func = get_key_func(config.get("KEY_FUNCTION"))
    prefix, version = config.get("KEY_PREFIX", ""), config.get("VERSION", 1)
    keys = [key_func(f"{nexus_prefix}:0:{kind}", prefix, version) for kind in ("t:a", "e:b", "stats:c")]
    return len({key_slot(str(k).encode()) for k in keys}) == 1


@register(Tags.database)
def check_replicas(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    raw = user_settings()
    if not isinstance(raw, dict) or not isinstance(raw.get("REPLICAS", {}), dict):
        return []
    errors: list[CheckMessage] = []
    for replica, primary in sorted(raw.get("REPLICAS", {}).items()):
        for role, alias in (("replica", replica), ("primary", primary)):
            if alias not in settings.DATABASES:
                errors.append(
                    Error(
                        f"{SETTING_NAME}['REPLICAS'] names {role} {alias!r}, which is not in DATABASES.",
                        hint=f"Map replica aliases to primary aliases from: {', '.join(sorted(settings.DATABASES))}.",
                        id="nexus_cache.E006",
                    )
                )
    return errors
