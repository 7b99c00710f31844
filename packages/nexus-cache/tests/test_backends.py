"""The same semantics on every Django cache backend; one round trip per hit on Redis."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.test import override_settings

from nexus_cache import cached, invalidate
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


@pytest.mark.requires_redis
def test_redis_hit_is_one_round_trip_and_write_is_one(unique_namespace: str, round_trips: list[str]) -> None:
    with override_settings(
        NEXUS_CACHE={"CACHE_ALIAS": "redis", "KEY_PREFIX": unique_namespace, "STATS_FLUSH_INTERVAL": 3600.0}
    ):
        a = Listing.objects.create(city="Lagos", price=1)
        list(Listing.objects.filter(city="Lagos").cached())
        Listing.objects.cached().get(pk=a.pk)

        @cached(timeout=30)
        def total() -> int:
            return sum(Listing.objects.values_list("price", flat=True))

        total()
        round_trips.clear()
        with no_queries():
            list(Listing.objects.filter(city="Lagos").cached())
        assert len(round_trips) == 1, round_trips
        round_trips.clear()
        with no_queries():
            Listing.objects.cached().get(pk=a.pk)
        assert len(round_trips) == 1, round_trips
        round_trips.clear()
        with no_queries():
            assert total() == 1
        assert len(round_trips) == 1, round_trips
        round_trips.clear()
        a.price = 2
        a.save()
        assert len(round_trips) == 1, round_trips
        from tests.conftest import _delete_redis_prefix

        _delete_redis_prefix(unique_namespace)
