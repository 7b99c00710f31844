"""Cache outages: requests never fail, invalidations are retried, nothing stale afterwards."""

from __future__ import annotations

import gc
import logging
import time
import warnings
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.cache import caches
from django.test import override_settings

from nexus_cache import _store, _tokens, cached, stats
from nexus_testing import memcached_url, redis_url

from tests.helpers import no_queries, queries
from tests.models import Listing

pytestmark = pytest.mark.django_db(transaction=True)


class Broken:
    """A cache whose every call raises (for the non-network failure paths)."""

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("cache is down")

        return fail


def _outage_settings(namespace: str, **extra: Any) -> dict[str, Any]:
    """NEXUS_CACHE for a cache behind a proxy that the test cuts: a breaker that opens at
    the first error and closes quickly, so an outage plays out within a test."""
    return {
        "CACHE_ALIAS": "proxied",
        "KEY_PREFIX": namespace,
        "CIRCUIT_BREAKER_THRESHOLD": 1,
        "CIRCUIT_BREAKER_COOLDOWN": 0.2,
        "RETRY_INTERVAL": 0.1,
        "STAMPEDE_LOCK_TIMEOUT": 1.0,
        **extra,
    }


@pytest.fixture
def proxied_redis(tcp_proxy: Any, unique_namespace: str) -> Iterator[Any]:
    proxy = tcp_proxy.for_url(redis_url(), 6379).start()
    cache_settings = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "proxied": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": proxy.url_through(redis_url()),
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        },
    }
    with (
        override_settings(CACHES=cache_settings),
        override_settings(NEXUS_CACHE=_outage_settings(unique_namespace)),
    ):
        yield proxy
        proxy.restore()
        conn = caches["proxied"].client.get_client()  # type: ignore[attr-defined]
        keys = list(conn.scan_iter(match=f"*{unique_namespace}*", count=500))
        if keys:
            conn.delete(*keys)


@pytest.fixture
def proxied_memcached(tcp_proxy: Any, unique_namespace: str) -> Iterator[Any]:
    proxy = tcp_proxy.for_url(memcached_url(), 11211).start()
    through = urlsplit(proxy.url_through(memcached_url()))
    cache_settings = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "proxied": {
            "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
            "LOCATION": f"{through.hostname}:{through.port}",
            "KEY_PREFIX": unique_namespace,
            # pymemcache marks a failed server dead for dead_timeout seconds (default 60) and
            # then answers every call silently (misses, unstored writes) instead of raising.
            "OPTIONS": {"connect_timeout": 0.5, "timeout": 0.5, "dead_timeout": 0.2},
        },
    }
    with (
        override_settings(CACHES=cache_settings),
        override_settings(NEXUS_CACHE=_outage_settings(unique_namespace, TOKEN_TIMEOUT=600)),
    ):
        yield proxy
        proxy.restore()
        caches["proxied"].close()
    # pymemcache's HashClient drops the client of a server it marks dead without closing
    # its socket (the library's leak, not ours): collect those sockets here, quietly,
    # rather than in whichever test the garbage collector next runs in.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def prices() -> list[int]:
    return [x.price for x in Listing.objects.cached(timeout=60).order_by("id")]


# (See proxied_memcached: pymemcache leaks the socket of a server it marks dead.)
ignore_pymemcache_socket_leak = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.mark.requires_memcached
@ignore_pymemcache_socket_leak
def test_memcached_outage_silent_write_failures_are_retried(proxied_memcached: Any) -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    assert prices() == [1]
    with no_queries():
        assert prices() == [1]
    proxied_memcached.cut()
    assert prices() == [1]  # from the database
    a.price = 2
    a.save()  # the token write fails (raised, or reported through set_many's return value)
    assert _tokens.pending_retry()
    assert prices() == [2]
    proxied_memcached.restore()
    deadline = time.monotonic() + 5
    while _tokens.pending_retry() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _tokens.pending_retry()
    assert prices() == [2]  # the entry for [1] is still stored; its token was replaced
    with no_queries():
        assert prices() == [2]


@pytest.mark.requires_memcached
@ignore_pymemcache_socket_leak
def test_tokens_a_cache_reports_unstored_are_a_failure(proxied_memcached: Any) -> None:
    proxied_memcached.cut()
    with pytest.raises(Exception):  # noqa: B017 - whichever the client raises first
        caches["proxied"].get("warm-up")  # the client notices and marks the server dead
    # Marked dead, pymemcache raises nothing: set_many returns the keys it did not store.
    assert caches["proxied"].set_many({"k": 1}, 5) == ["k"]
    assert not _tokens.replace(["*|F|tests.unstored"])
    assert "*|F|tests.unstored" in _tokens.pending_retry()


@pytest.mark.requires_redis
def test_redis_outage_mid_test_requests_succeed_and_nothing_stale_after(proxied_redis: Any) -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    assert prices() == [1]
    with no_queries():
        assert prices() == [1]

    proxied_redis.cut()
    # Reads fall through to the database; the write's invalidation cannot be delivered.
    assert prices() == [1]
    a.price = 2
    a.save()
    assert _tokens.pending_retry()
    for _ in range(5):
        assert prices() == [2]
    assert Listing.objects.cached().get(pk=a.pk).price == 2

    proxied_redis.restore()
    time.sleep(0.3)  # the breaker's cooldown
    # The stale entry for [1] is still in Redis; the retried invalidation kills it first.
    assert prices() == [2]
    assert not _tokens.pending_retry()
    with no_queries():
        assert prices() == [2]
    assert stats()["errors"] >= 1


@pytest.mark.requires_redis
def test_background_retry_delivers_invalidations_without_reads(proxied_redis: Any) -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    assert prices() == [1]
    proxied_redis.cut()
    a.price = 2
    a.save()
    proxied_redis.restore()
    deadline = time.monotonic() + 5
    while _tokens.pending_retry() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _tokens.pending_retry()
    assert prices() == [2]


def test_broken_cache_falls_through_and_opens_the_circuit(caplog: pytest.LogCaptureFixture) -> None:
    Listing.objects.create(city="Lagos", price=1)
    calls: list[int] = []

    @cached(timeout=60)
    def value() -> int:
        calls.append(1)
        return Listing.objects.count()

    with (
        override_settings(NEXUS_CACHE={"CIRCUIT_BREAKER_THRESHOLD": 2, "CIRCUIT_BREAKER_COOLDOWN": 60}),
        caplog.at_level(logging.INFO, logger="nexus_cache"),
    ):
        original = _store.cache
        _store.cache = lambda: Broken()  # type: ignore[assignment,return-value]
        try:
            for _ in range(5):
                assert value() == 1
                assert prices() == [1]
            assert not _store.breaker.allow()
        finally:
            _store.cache = original  # type: ignore[method-assign]
        assert len(calls) == 5
        assert stats()["errors"] == 2  # the circuit opened after two; the rest cost nothing
    assert "skipping it" in caplog.text


def test_fail_open_false_raises() -> None:
    with override_settings(NEXUS_CACHE={"FAIL_OPEN": False}):
        original = _store.cache
        _store.cache = lambda: Broken()  # type: ignore[assignment,return-value]
        try:
            with pytest.raises(ConnectionError):
                prices()
        finally:
            _store.cache = original  # type: ignore[method-assign]


def test_breaker_half_opens_after_cooldown() -> None:
    with override_settings(NEXUS_CACHE={"CIRCUIT_BREAKER_THRESHOLD": 1, "CIRCUIT_BREAKER_COOLDOWN": 0.05}):
        original = _store.cache
        _store.cache = lambda: Broken()  # type: ignore[assignment,return-value]
        try:
            prices()
        finally:
            _store.cache = original  # type: ignore[method-assign]
        assert not _store.breaker.allow()
        time.sleep(0.06)
        assert _store.breaker.allow()
        prices()
        with queries() as ctx:
            prices()
        assert len(ctx) == 0
        assert _store.breaker.failures == 0


def test_disabled_reads_the_source() -> None:
    Listing.objects.create(city="Lagos", price=1)
    with override_settings(NEXUS_CACHE={"ENABLED": False}):
        prices()
        with queries() as ctx:
            prices()
        assert len(ctx) == 1
