"""django-redis: one round trip per hit, cold or warm; Redis Cluster refused unless keys share a slot."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from nexus_cache import _backends, _core, cached, stats
from nexus_testing import redis_url

from tests.helpers import no_queries
from tests.models import Host, Listing

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.requires_redis]


@pytest.fixture
def redis_cache(unique_namespace: str) -> Iterator[str]:
    with override_settings(
        NEXUS_CACHE={"CACHE_ALIAS": "redis", "KEY_PREFIX": unique_namespace, "STATS_FLUSH_INTERVAL": 3600.0}
    ):
        yield unique_namespace
    from tests.conftest import _delete_redis_prefix

    _delete_redis_prefix(unique_namespace)


@pytest.fixture
def round_trips() -> Iterator[list[str]]:
    """Counts Redis round trips (one socket write of packed commands each) in this thread."""
    import redis.connection

    calls: list[str] = []
    original = redis.connection.AbstractConnection.send_packed_command
    me = threading.get_ident()

    def counting(self: Any, command: Any, check_health: bool = True) -> None:
        if threading.get_ident() == me:
            calls.append(repr(command)[:80])
        return original(self, command, check_health)

    redis.connection.AbstractConnection.send_packed_command = counting  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        redis.connection.AbstractConnection.send_packed_command = original  # type: ignore[method-assign]


def new_process() -> None:
    """What a process that never saw the entries knows about them: nothing."""
    _core.memo_clear()


def test_a_hit_is_one_round_trip_cold_and_warm(redis_cache: str, round_trips: list[str]) -> None:
    a = Listing.objects.create(city="Lagos", price=1, host=Host.objects.create(name="Ada"))

    @cached(timeout=30)
    def total() -> int:
        return sum(Listing.objects.values_list("price", flat=True))

    hits = {
        "list": lambda: [x.pk for x in Listing.objects.filter(city="Lagos").cached()],
        "get": lambda: Listing.objects.cached().get(pk=a.pk).pk,
        "select_related": lambda: [x.host.name for x in Listing.objects.cached().select_related("host")],
        "count": lambda: Listing.objects.cached().filter(city="Lagos").count(),
        "function": total,
    }
    expected = {name: hit() for name, hit in hits.items()}  # computed and stored
    for state in ("warm", "cold"):
        for name, hit in hits.items():
            if state == "cold":
                new_process()
            round_trips.clear()
            with no_queries():
                assert hit() == expected[name]
            assert len(round_trips) == 1, (state, name, round_trips)
            assert ("EVALSHA" in round_trips[0]) is (state == "cold"), round_trips


def test_a_write_is_one_round_trip(redis_cache: str, round_trips: list[str]) -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    list(Listing.objects.cached())
    round_trips.clear()
    a.price = 2
    a.save()
    assert len(round_trips) == 1, round_trips


def test_cold_hits_see_invalidations(redis_cache: str) -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    assert Listing.objects.cached().get(pk=a.pk).price == 1
    a.price = 2
    a.save()
    new_process()
    assert Listing.objects.cached().get(pk=a.pk).price == 2
    new_process()
    with no_queries():
        assert Listing.objects.cached().get(pk=a.pk).price == 2


def test_entry_recomputed_with_other_dependencies(redis_cache: str, round_trips: list[str]) -> None:
    """The memo says A; the entry now depends on A and B: B is fetched, never ignored."""
    Listing.objects.create(city="Lagos", price=1)
    reads_hosts = {"on": False}

    @cached(timeout=30)
    def value() -> int:
        n = Listing.objects.count()
        return n + (Host.objects.count() * 100 if reads_hosts["on"] else 0)

    assert value() == 1
    value.invalidate()
    reads_hosts["on"] = True
    new_process()
    assert value() == 1  # recomputed by "another process": now depends on hosts too
    _core._memo[value.key()] = tuple(n for n in _core._memo[value.key()] if "tests_host" not in n)
    round_trips.clear()
    assert value() == 1
    assert len(round_trips) == 2  # the stale memo costs one more trip, once
    Host.objects.create(name="Ada")
    assert value() == 101


def test_lost_script_cache_falls_back_to_eval(redis_cache: str, monkeypatch: pytest.MonkeyPatch) -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    Listing.objects.cached().get(pk=a.pk)
    # As after a Redis restart (SCRIPT FLUSH would hit every other user of the server).
    monkeypatch.setattr(_backends, "_LOOKUP_SHA", "0" * 40)
    new_process()
    with no_queries():
        assert Listing.objects.cached().get(pk=a.pk).price == 1


def test_foreign_values_under_an_entry_key_are_misses(redis_cache: str) -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    qs = Listing.objects.cached()
    list(qs)
    key = qs.cache_key()
    assert key is not None
    adapter = _backends.for_cache(caches["redis"])
    assert isinstance(adapter, _backends.DjangoRedis)
    for foreign in (b"plain bytes", b"NX1" + b"0" * 8 + b"not a pickle", b"NX1zzzzzzzz"):
        adapter.redis.set(adapter.raw(key), foreign, ex=30)
        for state in ("warm", "cold"):
            if state == "cold":
                new_process()
            assert [x.pk for x in Listing.objects.cached()] == [a.pk]
    assert stats()["local"]["errors"] == 0


def test_entries_read_from_the_primary(redis_cache: str) -> None:
    adapter = _backends.for_cache(caches["redis"])
    assert isinstance(adapter, _backends.DjangoRedis)
    assert adapter.redis is caches["redis"].client.get_client(write=True)  # type: ignore[attr-defined]


# -- Redis Cluster ----------------------------------------------------------------------------
# No cluster runs here: these check the guard against a client object of the cluster class.


class _ClusterCache:
    """Just enough of a django-redis cache whose raw client is a RedisCluster."""

    def __init__(self, prefix: str = "") -> None:
        from django.core.cache.backends.base import default_key_func
        from redis.cluster import RedisCluster

        raw = object.__new__(RedisCluster)
        outer = self

        class Client:
            def get_client(self, write: bool = True) -> Any:
                return raw

            def make_key(self, key: str) -> str:
                return default_key_func(key, outer.prefix, 1)

        self.prefix = prefix
        self.client = Client()


def test_cluster_without_a_hash_tag_is_refused_with_the_fix() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"KEY_PREFIX': '\{nx\}'"):
        _backends.DjangoRedis(_ClusterCache())


@pytest.mark.parametrize(("nexus_prefix", "cache_prefix"), [("{nx}", ""), ("nx", "{app}")])
def test_cluster_with_a_hash_tag_is_accepted(nexus_prefix: str, cache_prefix: str) -> None:
    with override_settings(NEXUS_CACHE={"KEY_PREFIX": nexus_prefix}):
        _backends.DjangoRedis(_ClusterCache(cache_prefix))


@pytest.mark.parametrize(
    ("options", "nexus_prefix", "cache_prefix", "error"),
    [
        ({"REDIS_CLIENT_CLASS": "redis.cluster.RedisCluster"}, "nx", "", True),
        ({"CLIENT_CLASS": "myproject.cache.RedisClusterClient"}, "nx", "", True),
        ({"REDIS_CLIENT_CLASS": "redis.cluster.RedisCluster"}, "{nx}", "", False),
        ({"REDIS_CLIENT_CLASS": "redis.cluster.RedisCluster"}, "nx", "{app}", False),
        ({"REDIS_CLIENT_CLASS": "redis.cluster.RedisCluster"}, "nx", "{}", True),  # empty tag: none
        ({}, "nx", "", False),
    ],
)
def test_cluster_configuration_check(
    options: dict[str, str], nexus_prefix: str, cache_prefix: str, error: bool
) -> None:
    from nexus_cache.checks import check_backend

    config = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/0",
        "KEY_PREFIX": cache_prefix,
        "OPTIONS": options,
    }
    with override_settings(CACHES={"default": config}, NEXUS_CACHE={"KEY_PREFIX": nexus_prefix}):
        ids = [m.id for m in check_backend()]
    assert ids == (["nexus_cache.E008"] if error else [])


def test_herd_client_uses_the_generic_path(redis_cache: str) -> None:
    from nexus_testing import redis_url

    config = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": redis_url(),
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.HerdClient"},
    }
    with override_settings(CACHES={**caches.settings, "redis": config}):  # type: ignore[attr-defined]
        assert isinstance(_backends.for_cache(caches["redis"]), _backends.Generic)
        a = Listing.objects.create(city="Lagos", price=1)
        assert Listing.objects.cached().get(pk=a.pk).price == 1
        with no_queries():
            assert Listing.objects.cached().get(pk=a.pk).price == 1
        a.price = 2
        a.save()
        assert Listing.objects.cached().get(pk=a.pk).price == 2


def test_counters_flush_in_one_round_trip(redis_cache: str, round_trips: list[str]) -> None:
    from nexus_cache import _stats

    _stats.incr("hits", 2)
    assert _stats.flush()  # (connects)
    _stats.incr("hits")
    _stats.incr("misses", 2)
    _stats.incr("stores")
    round_trips.clear()
    assert _stats.flush()
    assert len(round_trips) == 1, round_trips
    _stats.incr("hits")
    assert _stats.flush()
    shared = _stats.shared()
    assert shared is not None
    assert (shared["hits"], shared["misses"], shared["stores"]) == (4, 2, 1)
    ttl = caches["redis"].ttl(f"{redis_cache}:{__import__('nexus_cache').__version__}:stats:hits")  # type: ignore[attr-defined]
    assert 0 < ttl <= 604800


# -- the token writer's own connection --------------------------------------------------------


def _writer_connection() -> Any:
    from nexus_cache import _store

    adapter = _backends.for_cache(_store.cache())
    assert isinstance(adapter, _backends.DjangoRedis)
    assert adapter._writers is not None
    return getattr(adapter._writers, "conn", None)


def _invalidate_and_check(a: Listing, price: int) -> None:
    a.price = price
    a.save()
    assert Listing.objects.cached().get(pk=a.pk).price == price


def test_token_writes_reuse_one_connection_per_thread(redis_cache: str) -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    Listing.objects.cached().get(pk=a.pk)
    _invalidate_and_check(a, 2)
    mine = _writer_connection()
    assert mine is not None
    assert mine.is_connected
    _invalidate_and_check(a, 3)
    assert _writer_connection() is mine
    # A new cache object in the same thread (as Django makes per ASGI request) shares it.
    from nexus_cache import _store

    _store.cache().__dict__.pop("_nexus_cache_adapter")
    _invalidate_and_check(a, 4)
    assert _writer_connection() is mine

    seen: list[Any] = []

    def other_thread() -> None:
        from django.db import connections

        try:
            a.price = 5
            a.save()
            seen.append(_writer_connection())
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert seen
    assert seen[0] is not None
    assert seen[0] is not mine
    assert Listing.objects.cached().get(pk=a.pk).price == 5


def test_token_writes_survive_a_dropped_connection(redis_cache: str) -> None:
    """The server closed the connection (restart, idle timeout): the write is sent again on a
    new one, nothing is queued for retry and no error is counted."""
    import redis

    from nexus_cache import _tokens

    a = Listing.objects.create(city="Lagos", price=1)
    Listing.objects.cached().get(pk=a.pk)
    _invalidate_and_check(a, 2)
    conn = _writer_connection()
    conn.send_command("CLIENT", "ID")
    client_id = conn.read_response()
    killer = redis.Redis.from_url(redis_url())
    assert killer.client_kill_filter(_id=client_id) == 1
    errors = stats()["local"]["errors"]
    _invalidate_and_check(a, 3)
    assert _writer_connection() is not conn
    assert stats()["local"]["errors"] == errors
    assert not _tokens.pending_retry()


def test_token_writer_is_replaced_in_a_forked_child(
    redis_cache: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection inherited through fork() shares its socket with the parent: never used."""
    import os

    a = Listing.objects.create(city="Lagos", price=1)
    Listing.objects.cached().get(pk=a.pk)
    _invalidate_and_check(a, 2)
    parent = _writer_connection()
    pid = os.getpid()
    monkeypatch.setattr(_backends.os, "getpid", lambda: pid + 1)
    _invalidate_and_check(a, 3)
    assert _writer_connection() is not parent


def test_lost_script_cache_for_token_writes_falls_back_to_eval(
    redis_cache: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    Listing.objects.cached().get(pk=a.pk)
    monkeypatch.setattr(_backends, "_REPLACE_SHA", "0" * 40)
    errors = stats()["local"]["errors"]
    _invalidate_and_check(a, 2)
    assert stats()["local"]["errors"] == errors


@pytest.mark.parametrize(
    ("module", "patched"),
    [("gevent.monkey", "is_module_patched"), ("eventlet.patcher", "is_monkey_patched")],
)
def test_green_threads_keep_pooled_token_writes(
    redis_cache: str, monkeypatch: pytest.MonkeyPatch, module: str, patched: str
) -> None:
    """Under gevent or eventlet a thread-local is per greenlet: a connection per request."""
    import types

    from nexus_cache import _store

    fake = types.ModuleType(module)
    setattr(fake, patched, lambda name: name in ("threading", "thread"))
    monkeypatch.setitem(sys.modules, module, fake)
    _store.cache().__dict__.pop("_nexus_cache_adapter", None)
    try:
        adapter = _backends.for_cache(_store.cache())
        assert isinstance(adapter, _backends.DjangoRedis)
        assert adapter._writers is None
        a = Listing.objects.create(city="Lagos", price=1)
        Listing.objects.cached().get(pk=a.pk)
        _invalidate_and_check(a, 2)
    finally:
        _store.cache().__dict__.pop("_nexus_cache_adapter", None)
