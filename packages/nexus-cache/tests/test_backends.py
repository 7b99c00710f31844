"""The same semantics on every Django cache backend (django-redis specifics: test_redis.py)."""

from __future__ import annotations

import time

import pytest
from django.core.cache import caches
from django.test import Client

from nexus_cache import _core, _stats, _tokens, cached, invalidate
from nexus_cache._core import explain

from tests.helpers import no_queries
from tests.models import Listing

pytestmark = pytest.mark.django_db(transaction=True)


def test_hit_and_invalidation_on_every_backend(backend: str) -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    b = Listing.objects.create(city="Lagos", price=2)
    qs = Listing.objects.filter(city="Lagos").order_by("id").cached(timeout=30)
    assert [x.price for x in qs] == [1, 2]
    assert qs.count() == 2
    assert Listing.objects.cached().get(pk=a.pk).price == 1
    with no_queries():
        assert [x.price for x in Listing.objects.filter(city="Lagos").order_by("id").cached()] == [1, 2]
        assert Listing.objects.cached().get(pk=a.pk).price == 1
    b.price = 3
    b.save()
    with no_queries():
        assert Listing.objects.cached().get(pk=a.pk).price == 1  # row 1 untouched
    assert [x.price for x in Listing.objects.filter(city="Lagos").order_by("id").cached()] == [1, 3]
    invalidate(Listing)
    assert Listing.objects.cached().get(pk=a.pk).price == 1
    qs = Listing.objects.filter(city="Lagos").order_by("id").cached()
    key = qs.cache_key()
    assert key is not None
    assert not explain(key)["valid"]  # invalidated above
    list(qs)
    info = explain(key)
    assert info["present"]
    assert info["valid"]
    assert any(d["token"].endswith("|T|tests_listing") for d in info["dependencies"])


def test_entries_have_a_finite_timeout(backend: str) -> None:
    Listing.objects.create(city="Lagos", price=1)
    qs = Listing.objects.cached(timeout=1)
    list(qs)
    key = qs.cache_key()
    assert key is not None
    if backend == "redis":
        from django_redis import get_redis_connection

        ttl = caches["redis"].ttl(key)  # type: ignore[attr-defined]
        assert 0 < ttl <= 1
        assert get_redis_connection("redis") is not None
    else:
        record = caches[backend].get(key)
        assert record[6] - record[4] == pytest.approx(1, abs=0.01)


def test_entries_expire_on_the_server(backend: str) -> None:
    calls: list[int] = []

    @cached(timeout=1)
    def value() -> int:
        calls.append(1)
        return len(calls)

    assert value() == 1
    deadline = time.monotonic() + 4  # memcached counts expiry in whole seconds
    while value() == 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(calls) == 2


def test_binary_values_and_long_arguments(backend: str) -> None:
    blob = bytes(range(256)) * 1200  # 300 KB with every byte value (memcached items: 1 MB)
    calls: list[str] = []

    @cached(timeout=30)
    def payload(name: str, size: int) -> bytes:
        calls.append(name)
        return blob[:size] + name.encode()

    name = "é" * 5000 + " key material with spaces, \n\t and \x00 "
    assert payload(name, len(blob)) == blob + name.encode()
    with no_queries():
        assert payload(name, len(blob)) == blob + name.encode()
    assert calls == [name]
    key = payload.key(name, len(blob))
    # Keys are short, printable and space-free whatever the arguments (memcached: <= 250).
    assert len(key) < 80
    assert all(32 < ord(c) < 127 for c in key)


def test_add_is_the_single_flight_primitive(backend: str) -> None:
    ekey = _core.entry_key("test", "lock")
    owner = _core._try_lock(ekey)
    assert owner is not None
    assert _core._try_lock(ekey) is None  # add() fails while the lock exists
    _core._release(ekey, owner)
    again = _core._try_lock(ekey)
    assert again is not None
    _core._release(ekey, again)
    # Absent tokens are created with add(): two readers agree on the value.
    first = _tokens.read(["*|F|tests.add"])
    assert _tokens.read(["*|F|tests.add"]) == first
    assert _tokens.replace(["*|F|tests.add"])
    assert _tokens.read(["*|F|tests.add"]) != first


def test_counters_are_shared_through_the_backend(backend: str) -> None:
    assert _stats.flush()
    before = _stats.shared()
    assert before is not None
    _stats.incr("hits", 3)
    assert _stats.flush()
    _stats.incr("hits", 2)
    assert _stats.flush()
    after = _stats.shared()
    assert after is not None
    assert after["hits"] - before["hits"] == 5


def test_responses_are_cached_with_etags(backend: str, client: Client) -> None:
    Listing.objects.create(city="Lagos", price=1)
    first = client.get("/count/")
    assert first["X-Nexus-Cache"] == "miss"
    with no_queries():
        hit = client.get("/count/")
        assert hit["X-Nexus-Cache"] == "hit"
        assert hit.content == first.content
        assert client.get("/count/", HTTP_IF_NONE_MATCH=hit["ETag"]).status_code == 304
    Listing.objects.create(city="Kano", price=2)
    assert client.get("/count/", HTTP_IF_NONE_MATCH=hit["ETag"]).status_code == 200
