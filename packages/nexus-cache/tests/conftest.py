from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

from nexus_cache import _core, _stats, _store, _tokens


def _reset() -> None:
    _store.breaker.reset()
    _core.memo_clear()
    _stats.reset_local()
    _tokens._take_retry()


@pytest.fixture(autouse=True)
def nexus_namespace(unique_namespace: str) -> Iterator[str]:
    """Every test gets its own KEY_PREFIX: runs sharing Redis never see each other's keys."""
    _reset()
    with override_settings(NEXUS_CACHE={"KEY_PREFIX": unique_namespace, "STAMPEDE_LOCK_TIMEOUT": 2.0}):
        yield unique_namespace
    _reset()


BACKENDS = [
    pytest.param("default", id="locmem"),
    pytest.param("file", id="file"),
    pytest.param("db", id="db"),
    pytest.param("redis", id="redis", marks=pytest.mark.requires_redis),
    pytest.param("memcached", id="memcached", marks=pytest.mark.requires_memcached),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, nexus_namespace: str) -> Iterator[str]:
    """Run a test on each Django cache backend (the alias becomes CACHE_ALIAS)."""
    alias: str = request.param
    config: dict[str, object] = {
        "KEY_PREFIX": nexus_namespace,
        "CACHE_ALIAS": alias,
        "STAMPEDE_LOCK_TIMEOUT": 2.0,
    }
    if alias == "memcached":
        # Memcached cannot list keys, so nothing is deleted afterwards: keep tokens short-lived.
        config["TOKEN_TIMEOUT"] = 600
    with override_settings(NEXUS_CACHE=config):
        yield alias
    if alias == "redis":
        _delete_redis_prefix(nexus_namespace)


def _delete_redis_prefix(prefix: str) -> None:
    from django_redis import get_redis_connection

    conn = get_redis_connection("redis")
    keys = list(conn.scan_iter(match=f"*{prefix}*", count=500))
    if keys:
        conn.delete(*keys)
