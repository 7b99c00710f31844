"""DESIGN.md's public contract for nexus-cache, exercised the way a Django project uses it.

Only the documented surface is used: ``cached``, ``invalidate``, ``CacheResponseMixin``,
``cache_view``, ``cached_resolver`` and ``stats`` from ``nexus_cache``; ``CachedQuerySet``,
``CachedManager`` and ``CacheInvalidationMixin`` from ``nexus_cache.models``; the
``NEXUS_CACHE`` settings; ``manage.py nexus_cache``; the invalidation signal. Every test
checks behaviour a user can see - fresh data after writes, hits that run no SQL, counters,
HTTP headers - never internals. Each test runs on LocMem and on Redis; the database is
SQLite or PostgreSQL after ``DATABASE_URL`` (the tox factor).
"""

from __future__ import annotations

import base64
import inspect
import io
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import graphene
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import caches
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import Avg, Count, Max, QuerySet, Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import Client, RequestFactory, override_settings
from django.urls import include, path
from rest_framework import pagination, routers, serializers, viewsets
from rest_framework.response import Response

from nexus_cache import CacheResponseMixin, cache_view, cached, cached_resolver, invalidate, stats
from nexus_cache.models import CachedManager, CachedQuerySet, CacheInvalidationMixin
from nexus_cache.signals import invalidated

from tests.helpers import no_queries, queries
from tests.models import Amenity, Host, Hotel, Listing, Place, Review, Tag

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("cache_alias")]

#: What the views, resolvers and functions below were asked to compute, in order.
CALLS: list[str] = []
#: A value from outside the database ("a remote rating service").
EXTERNAL: dict[str, int] = {"rating": 4}


@pytest.fixture(
    params=[
        pytest.param("default", id="locmem"),
        pytest.param("redis", id="redis", marks=pytest.mark.requires_redis),
    ]
)
def cache_alias(request: pytest.FixtureRequest, nexus_namespace: str) -> Iterator[str]:
    """The contract holds on LocMem (development) and on Redis (production)."""
    alias: str = request.param
    CALLS.clear()
    EXTERNAL["rating"] = 4
    config = {"KEY_PREFIX": nexus_namespace, "CACHE_ALIAS": alias, "STAMPEDE_LOCK_TIMEOUT": 2.0}
    with override_settings(NEXUS_CACHE=config):
        yield alias
    if alias == "redis":
        from django_redis import get_redis_connection

        conn = get_redis_connection("redis")
        keys = list(conn.scan_iter(match=f"*{nexus_namespace}*", count=500))
        if keys:
            conn.delete(*keys)


def nexus(**overrides: Any) -> override_settings:
    """``override_settings`` of some ``NEXUS_CACHE`` keys, keeping the others."""
    return override_settings(NEXUS_CACHE={**settings.NEXUS_CACHE, **overrides})


def counters() -> dict[str, int]:
    data = stats()
    return {name: int(data[name]) for name in ("hits", "misses", "invalidations", "errors")}


def delta(before: dict[str, int]) -> dict[str, int]:
    after = counters()
    return {name: after[name] - before[name] for name in before}


def lagos(**kwargs: Any) -> CachedQuerySet[Listing]:
    return Listing.objects.filter(city="Lagos").order_by("id").cached(timeout=60, **kwargs)


def nexus_cache_command(*args: str) -> str:
    out = io.StringIO()
    call_command("nexus_cache", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


# -- querysets ------------------------------------------------------------------------------


def test_cached_queryset_is_a_lazy_queryset_served_from_the_cache_until_a_write() -> None:
    Listing.objects.create(city="Lagos", price=1)
    Listing.objects.create(city="Abuja", price=9)
    with queries() as ctx:
        qs = Listing.objects.filter(city="Lagos").cached(timeout=60)
    assert ctx.captured_queries == []  # still lazy
    assert isinstance(qs, QuerySet)
    assert isinstance(qs, CachedQuerySet)
    before = counters()
    assert [x.price for x in qs] == [1]
    with no_queries():
        again = Listing.objects.filter(city="Lagos").cached(timeout=60)
        assert [x.price for x in again] == [1]
        assert len(again) == 1
    assert delta(before)["hits"] == 1
    assert delta(before)["misses"] == 1
    Listing.objects.create(city="Lagos", price=2)
    assert [x.price for x in Listing.objects.filter(city="Lagos").order_by("id").cached(timeout=60)] == [1, 2]


def test_a_cached_queryset_stays_cached_through_further_chaining() -> None:
    Listing.objects.create(city="Lagos", price=1)
    Listing.objects.create(city="Lagos", price=5)

    def build() -> QuerySet[Listing]:
        return Listing.objects.cached(timeout=60).filter(city="Lagos").exclude(price=1).order_by("-price")

    assert [x.price for x in build()] == [5]
    with no_queries():
        assert [x.price for x in build()] == [5]
    Listing.objects.create(city="Lagos", price=7)
    assert [x.price for x in build()] == [7, 5]


def test_get_by_pk_is_cached_per_row() -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    b = Listing.objects.create(city="Lagos", price=2)
    assert Listing.objects.cached().get(pk=a.pk).price == 1
    assert Listing.objects.cached().get(pk=b.pk).price == 2
    with no_queries():
        assert Listing.objects.cached().get(pk=a.pk).price == 1
        assert Listing.objects.cached(timeout=60).get(id=a.pk).price == 1
    b.price = 3
    b.save()
    with no_queries():  # a write to row b leaves row a's entry valid
        assert Listing.objects.cached().get(pk=a.pk).price == 1
    assert Listing.objects.cached().get(pk=b.pk).price == 3
    a.price = 4
    a.save()
    assert Listing.objects.cached().get(pk=a.pk).price == 4


def test_get_of_a_missing_row_raises_until_the_row_exists() -> None:
    a = Listing.objects.create(city="Lagos")
    missing = a.pk + 1000
    for _ in range(2):
        with pytest.raises(Listing.DoesNotExist):
            Listing.objects.cached().get(pk=missing)
    Listing.objects.create(pk=missing, city="Kano")
    assert Listing.objects.cached().get(pk=missing).city == "Kano"
    with pytest.raises(Listing.MultipleObjectsReturned):
        Listing.objects.cached().get(city__in=["Lagos", "Kano"])
    assert Listing.objects.cached().get(city="Kano").pk == missing


def test_count_and_exists() -> None:
    assert lagos().count() == 0
    assert lagos().exists() is False
    with no_queries():
        assert lagos().count() == 0
        assert lagos().exists() is False
    a = Listing.objects.create(city="Lagos")
    assert lagos().count() == 1
    assert lagos().exists() is True
    with no_queries():
        assert lagos().count() == 1
        assert lagos().exists() is True
    a.delete()
    assert lagos().count() == 0
    assert lagos().exists() is False


def test_first_and_last() -> None:
    assert lagos().first() is None
    for price in (1, 2, 3):
        Listing.objects.create(city="Lagos", price=price)
    first, last = lagos().first(), lagos().last()
    assert first is not None
    assert last is not None
    assert (first.price, last.price) == (1, 3)
    with no_queries():
        assert lagos().first() == first
        assert lagos().last() == last
    Listing.objects.create(city="Lagos", price=4)
    newest = lagos().last()
    assert newest is not None
    assert newest.price == 4
    Listing.objects.filter(pk=first.pk).delete()
    new_first = lagos().first()
    assert new_first is not None
    assert new_first.price == 2


def test_aggregate() -> None:
    Listing.objects.create(city="Lagos", price=10)
    Listing.objects.create(city="Lagos", price=20)

    def agg() -> dict[str, Any]:
        return lagos().aggregate(total=Sum("price"), top=Max("price"), n=Count("id"))

    assert agg() == {"total": 30, "top": 20, "n": 2}
    with no_queries():
        assert agg() == {"total": 30, "top": 20, "n": 2}
    assert lagos().aggregate(Avg("price")) == {"price__avg": 15}  # another aggregate, another key
    Listing.objects.filter(city="Lagos").update(price=1)
    assert agg() == {"total": 2, "top": 1, "n": 2}


def test_values_and_values_list() -> None:
    Listing.objects.create(city="Lagos", price=1)
    assert list(lagos().values("city", "price")) == [{"city": "Lagos", "price": 1}]
    assert list(lagos().values_list("price", flat=True)) == [1]
    assert list(lagos().values_list("city", "price")) == [("Lagos", 1)]
    with no_queries():
        assert list(lagos().values("city", "price")) == [{"city": "Lagos", "price": 1}]
        assert list(lagos().values_list("price", flat=True)) == [1]
        assert list(lagos().values_list("city", "price")) == [("Lagos", 1)]
    Listing.objects.bulk_create([Listing(city="Lagos", price=2)])
    assert list(lagos().values_list("price", flat=True)) == [1, 2]
    rows = list(Listing.objects.all())
    for row in rows:
        row.price += 10
    Listing.objects.bulk_update(rows, ["price"])
    assert list(lagos().values_list("price", flat=True)) == [11, 12]
    assert list(lagos().values("price")) == [{"price": 11}, {"price": 12}]


def _raw_update_price(pk: int, price: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Listing._meta.db_table} SET price = %s WHERE id = %s", [price, pk])


WRITES = ["save", "delete", "update", "queryset_delete", "bulk_create", "bulk_update", "raw_sql"]


@pytest.mark.parametrize("write", WRITES)
def test_every_write_path_is_followed_by_fresh_reads(write: str) -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    b = Listing.objects.create(city="Lagos", price=2)

    def read() -> tuple[list[int], int, int | None]:
        row = Listing.objects.cached().filter(pk=b.pk).first()
        return (
            list(lagos().values_list("price", flat=True)),
            lagos().count(),
            row.price if row is not None else None,
        )

    assert read() == ([1, 2], 2, 2)
    with no_queries():
        assert read() == ([1, 2], 2, 2)
    if write == "save":
        b.price = 5
        b.save()
        expected: tuple[list[int], int, int | None] = ([1, 5], 2, 5)
    elif write == "delete":
        b.delete()
        expected = ([1], 1, None)
    elif write == "update":
        Listing.objects.filter(pk=b.pk).update(price=5)
        expected = ([1, 5], 2, 5)
    elif write == "queryset_delete":
        Listing.objects.filter(price=2).delete()
        expected = ([1], 1, None)
    elif write == "bulk_create":
        Listing.objects.bulk_create([Listing(city="Lagos", price=3)])
        expected = ([1, 2, 3], 3, 2)
    elif write == "bulk_update":
        a.price, b.price = 7, 8
        Listing.objects.bulk_update([a, b], ["price"])
        expected = ([7, 8], 2, 8)
    else:
        _raw_update_price(b.pk, 5)
        expected = ([1, 5], 2, 5)
    assert read() == expected


def test_m2m_changes_and_prefetches_are_dependencies() -> None:
    listing = Listing.objects.create(city="Lagos")
    wifi, pool = Amenity.objects.create(name="wifi"), Amenity.objects.create(name="pool")

    def names() -> list[list[str]]:
        qs = Listing.objects.filter(city="Lagos").prefetch_related("amenities").cached(timeout=60)
        return [sorted(a.name for a in x.amenities.all()) for x in qs]

    assert names() == [[]]
    listing.amenities.add(wifi, pool)
    assert names() == [["pool", "wifi"]]
    with no_queries():
        assert names() == [["pool", "wifi"]]
    listing.amenities.remove(pool)
    assert names() == [["wifi"]]
    wifi.name = "fast wifi"
    wifi.save()
    assert names() == [["fast wifi"]]
    listing.amenities.set([pool])
    assert names() == [["pool"]]
    listing.amenities.clear()
    assert names() == [[]]


def test_multi_table_inheritance_writes_invalidate_parent_and_child_reads() -> None:
    hotel = Hotel.objects.create(name="Eko", stars=3)
    assert Place.objects.cached().get(pk=hotel.pk).name == "Eko"
    assert list(Hotel.objects.cached().values_list("name", "stars")) == [("Eko", 3)]
    hotel.name, hotel.stars = "Eko Hotel", 5
    hotel.save()  # writes both tables
    assert Place.objects.cached().get(pk=hotel.pk).name == "Eko Hotel"
    assert list(Hotel.objects.cached().values_list("name", "stars")) == [("Eko Hotel", 5)]
    Place.objects.filter(pk=hotel.pk).update(name="Renamed")  # the parent table only
    assert list(Hotel.objects.cached().values_list("name", flat=True)) == ["Renamed"]


def test_select_related_tables_are_dependencies() -> None:
    host = Host.objects.create(name="Ada")
    Listing.objects.create(city="Lagos", host=host)

    def host_names() -> list[str]:
        return [x.host.name for x in lagos().select_related("host") if x.host is not None]

    assert host_names() == ["Ada"]
    with no_queries():
        assert host_names() == ["Ada"]
    host.name = "Grace"
    host.save()
    assert host_names() == ["Grace"]


def test_querysets_take_explicit_dependencies_too() -> None:
    # DESIGN: dependencies are discovered; an explicit depends_on= adds more.
    listing = Listing.objects.create(city="Lagos")

    def counted() -> int:
        return Listing.objects.filter(city="Lagos").cached(timeout=60, depends_on=[Review]).count()

    assert counted() == 1
    assert Listing.objects.cached(depends_on=["tests.Review"]).get(pk=listing.pk) == listing
    with no_queries():
        assert counted() == 1
        assert Listing.objects.cached(depends_on=["tests.Review"]).get(pk=listing.pk) == listing
    Review.objects.create(listing=listing, rating=4)
    with queries() as ctx:
        assert counted() == 1
        assert Listing.objects.cached(depends_on=["tests.Review"]).get(pk=listing.pk) == listing
    assert len(ctx.captured_queries) == 2


def test_managers_and_the_mixin() -> None:
    # CacheInvalidationMixin (Host), CachedManager (Amenity), CachedQuerySet.as_manager() (Tag).
    assert isinstance(Host.objects, CachedManager)
    assert issubclass(Host, CacheInvalidationMixin)
    for model, field in ((Host, "name"), (Amenity, "name"), (Tag, "name")):
        model.objects.create(**{field: "one"})
        assert model.objects.cached(timeout=60).count() == 1
        with no_queries():
            assert model.objects.cached(timeout=60).count() == 1
            assert isinstance(model.objects.all().cached(timeout=60), CachedQuerySet)
        model.objects.create(**{field: "two"})
        assert model.objects.cached(timeout=60).count() == 2
        assert sorted(model.objects.cached().values_list(field, flat=True)) == ["one", "two"]


def test_inside_a_transaction_reads_see_their_own_writes_and_rollback_keeps_entries_valid() -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    assert list(lagos().values_list("price", flat=True)) == [1]
    with transaction.atomic():
        Listing.objects.filter(pk=a.pk).update(price=2)
        assert list(lagos().values_list("price", flat=True)) == [2]  # read-your-own-writes
        assert Listing.objects.cached().get(pk=a.pk).price == 2
    assert list(lagos().values_list("price", flat=True)) == [2]  # committed: fresh
    assert Listing.objects.cached().get(pk=a.pk).price == 2
    with no_queries():
        assert list(lagos().values_list("price", flat=True)) == [2]
    with transaction.atomic():
        Listing.objects.filter(pk=a.pk).update(price=3)
        assert list(lagos().values_list("price", flat=True)) == [3]
        transaction.set_rollback(True)
    with no_queries():  # the rolled-back write invalidated nothing
        assert list(lagos().values_list("price", flat=True)) == [2]
        assert Listing.objects.cached().get(pk=a.pk).price == 2


def test_a_value_read_before_a_commit_is_not_served_after_it() -> None:
    """Reader reads -> writer commits -> reader stores: the next read is fresh."""
    a = Listing.objects.create(city="Lagos", price=1)
    read_done, write_done = threading.Event(), threading.Event()
    results: list[Any] = []

    @cached(timeout=60)
    def price() -> int:
        value = Listing.objects.get(pk=a.pk).price
        if not write_done.is_set():
            read_done.set()
            write_done.wait(5)
        return value

    def reader() -> None:
        try:
            results.append(price())
        finally:
            connection.close()

    thread = threading.Thread(target=reader)
    thread.start()
    assert read_done.wait(5)
    Listing.objects.filter(pk=a.pk).update(price=2)
    write_done.set()
    thread.join(5)
    assert results == [1]  # what the reader saw before the commit
    assert price() == 2


@pytest.mark.requires_postgres
def test_a_value_cached_by_another_connection_during_a_write_is_not_served_after_its_commit() -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    seen: list[int] = []

    def reader() -> None:
        try:
            seen.append(Listing.objects.cached().get(pk=a.pk).price)
            seen.append(lagos().aggregate(total=Sum("price"))["total"])
        finally:
            connection.close()

    with transaction.atomic():
        Listing.objects.filter(pk=a.pk).update(price=2)
        thread = threading.Thread(target=reader)
        thread.start()
        thread.join(5)
    assert seen == [1, 1]  # the other connection saw (and cached) committed data
    assert Listing.objects.cached().get(pk=a.pk).price == 2
    assert lagos().aggregate(total=Sum("price"))["total"] == 2


# -- functions -------------------------------------------------------------------------------


@cached(timeout=600, depends_on=[Review])
def average_rating(listing_id: int) -> int:
    """Declared dependency only: the value comes from outside the database."""
    CALLS.append(f"rating:{listing_id}")
    return EXTERNAL["rating"] + listing_id


@cached(timeout=600)
def listing_prices(city: str) -> list[int]:
    """Discovered dependency: the tables its queries read."""
    CALLS.append(f"prices:{city}")
    return list(Listing.objects.filter(city=city).order_by("id").values_list("price", flat=True))


def test_cached_function_key_from_arguments_and_one_key_invalidation() -> None:
    assert average_rating(1) == 5
    assert average_rating(1) == 5
    assert average_rating(listing_id=1) == 5  # the same call, spelled with a keyword
    assert average_rating(2) == 6
    assert CALLS == ["rating:1", "rating:2"]
    EXTERNAL["rating"] = 1
    average_rating.invalidate(1)  # one key
    assert average_rating(1) == 2
    assert average_rating(2) == 6  # still the cached value
    assert CALLS == ["rating:1", "rating:2", "rating:1"]


def test_cached_function_depends_on_declared_models() -> None:
    listing = Listing.objects.create(city="Lagos")
    assert average_rating(1) == 5
    EXTERNAL["rating"] = 2
    Listing.objects.create(city="Kano")  # not a declared dependency
    assert average_rating(1) == 5
    Review.objects.create(listing=listing, rating=2)
    assert average_rating(1) == 3
    EXTERNAL["rating"] = 0
    invalidate(Review)  # invalidate(Model): every value that depends on the table
    assert average_rating(1) == 1
    assert CALLS == ["rating:1", "rating:1", "rating:1"]


def test_cached_function_discovers_the_tables_it_reads() -> None:
    Listing.objects.create(city="Lagos", price=1)
    before = counters()
    assert listing_prices("Lagos") == [1]
    with no_queries():
        assert listing_prices("Lagos") == [1]
    assert delta(before)["hits"] == 1
    Review.objects.create(listing=Listing.objects.get(), rating=5)  # a table it did not read
    assert listing_prices("Lagos") == [1]
    Listing.objects.create(city="Lagos", price=2)
    assert listing_prices("Lagos") == [1, 2]
    assert CALLS == ["prices:Lagos", "prices:Lagos"]


def test_model_instances_as_arguments_are_keyed_by_primary_key() -> None:
    a, b = Listing.objects.create(city="Lagos", price=1), Listing.objects.create(city="Lagos", price=2)

    @cached(timeout=60)
    def doubled(listing: Listing) -> int:
        CALLS.append(f"doubled:{listing.pk}")
        return Listing.objects.get(pk=listing.pk).price * 2

    assert doubled(a) == 2
    assert doubled(Listing.objects.get(pk=a.pk)) == 2  # another object, same row
    assert doubled(b) == 4
    Listing.objects.filter(pk=a.pk).update(price=10)
    assert doubled(a) == 20
    assert [f"doubled:{a.pk}", f"doubled:{b.pk}", f"doubled:{a.pk}"] == CALLS


def test_async_cached_function() -> None:
    listing = Listing.objects.create(city="Lagos", price=1)

    @cached(timeout=600, depends_on=[Review])
    async def arating(listing_id: int) -> int:
        CALLS.append(f"arating:{listing_id}")
        price = (await Listing.objects.aget(pk=listing_id)).price
        return EXTERNAL["rating"] + price

    async def scenario() -> list[int]:
        out = [await arating(listing.pk), await arating(listing.pk)]
        EXTERNAL["rating"] = 0
        arating.invalidate(listing.pk)
        out.append(await arating(listing.pk))
        await Listing.objects.filter(pk=listing.pk).aupdate(price=7)
        out.append(await arating(listing.pk))
        EXTERNAL["rating"] = 2
        await arating.invalidate(listing.pk)  # awaiting it reads naturally, and works too
        out.append(await arating(listing.pk))
        return out

    assert inspect.iscoroutinefunction(arating)
    assert async_to_sync(scenario)() == [5, 5, 1, 7, 9]
    EXTERNAL["rating"] = 1
    Review.objects.create(listing=listing, rating=1)
    assert async_to_sync(arating)(listing.pk) == 8
    assert [f"arating:{listing.pk}"] * 5 == CALLS


def test_decorators_also_take_the_timeout_positionally() -> None:
    # ``@cached(600)`` reads like Django's ``cache_page(600)``: the same as timeout=600.
    @cached(600)
    def rating() -> int:
        CALLS.append("rating")
        return EXTERNAL["rating"]

    @cache_view(60)
    def view(request: HttpRequest) -> HttpResponse:
        CALLS.append("view")
        return JsonResponse({"rating": EXTERNAL["rating"]})

    assert rating() == rating() == 4
    request = RequestFactory().get("/rating/")
    assert view(request).content == view(request).content == b'{"rating": 4}'
    assert CALLS == ["rating", "view"]
    with pytest.raises(TypeError, match="timeout"):
        cached("600")  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="positive"):
        cached(0)(lambda: 1)


# -- invalidate() ------------------------------------------------------------------------------


@cached(timeout=600, depends_on=[Listing])
def remote_listing_data() -> int:
    CALLS.append("remote")
    return EXTERNAL["rating"]


@pytest.mark.parametrize("form", ["model", "label", "lowercase_label", "instance"])
def test_invalidate_a_model_a_label_or_an_instance(form: str) -> None:
    listing = Listing.objects.create(city="Lagos")
    assert remote_listing_data() == 4
    EXTERNAL["rating"] = 5
    assert remote_listing_data() == 4
    target: Any = {
        "model": Listing,
        "label": "tests.Listing",
        "lowercase_label": "tests.listing",
        "instance": listing,
    }[form]
    invalidate(target)
    assert remote_listing_data() == 5
    assert CALLS == ["remote", "remote"]


def test_invalidating_an_instance_leaves_other_rows_cached() -> None:
    a, b = Listing.objects.create(city="Lagos", price=1), Listing.objects.create(city="Lagos", price=2)
    Listing.objects.cached().get(pk=a.pk)
    Listing.objects.cached().get(pk=b.pk)
    invalidate(a)
    with no_queries():
        assert Listing.objects.cached().get(pk=b.pk).price == 2
    with queries() as ctx:
        assert Listing.objects.cached().get(pk=a.pk).price == 1
    assert len(ctx.captured_queries) == 1


def test_invalidate_after_writes_django_cannot_see() -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    assert Listing.objects.cached().get(pk=a.pk).price == 1
    assert list(lagos().values_list("price", flat=True)) == [1]
    # Another program writes the row (not through Django's connection wrappers).
    connection.ensure_connection()
    assert connection.connection is not None
    placeholder = "?" if connection.vendor == "sqlite" else "%s"

    def outside_write(price: int) -> None:
        raw = connection.connection.cursor()  # type: ignore[union-attr]
        raw.execute(f"UPDATE {Listing._meta.db_table} SET price = {price} WHERE id = {placeholder}", [a.pk])
        raw.close()

    outside_write(9)
    invalidate(a)
    assert Listing.objects.cached().get(pk=a.pk).price == 9
    assert list(lagos().values_list("price", flat=True)) == [9]
    outside_write(10)
    invalidate("tests.Listing")
    assert list(lagos().values_list("price", flat=True)) == [10]
    assert Listing.objects.cached().get(pk=a.pk).price == 10


def test_invalidate_in_a_transaction_happens_at_commit_and_not_at_rollback() -> None:
    Listing.objects.create(city="Lagos")
    remote_listing_data()
    EXTERNAL["rating"] = 6
    with transaction.atomic():
        invalidate(Listing)
        transaction.set_rollback(True)
    assert remote_listing_data() == 4  # rolled back: nothing invalidated
    with transaction.atomic():
        invalidate(Listing)
    assert remote_listing_data() == 6
    assert CALLS == ["remote", "remote"]


def test_invalidate_rejects_what_is_not_a_model() -> None:
    with pytest.raises(LookupError):
        invalidate("tests.NoSuchModel")
    with pytest.raises(TypeError):
        invalidate(42)  # type: ignore[arg-type]


# -- DRF, plain views, GraphQL -----------------------------------------------------------------


class ListingSerializer(serializers.ModelSerializer):
    class Meta:
        model = Listing
        fields = ["id", "city", "price"]


class TwoPerPage(pagination.PageNumberPagination):
    page_size = 2


class ContractListingViewSet(CacheResponseMixin, viewsets.ModelViewSet):
    queryset = Listing.objects.order_by("id")
    serializer_class = ListingSerializer
    pagination_class = TwoPerPage
    cache_timeout = 60

    def list(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        CALLS.append("list")
        return super().list(request, *args, **kwargs)


class WhoAmIViewSet(CacheResponseMixin, viewsets.ViewSet):
    cache_timeout = 60

    def list(self, request: Any) -> Response:
        CALLS.append(f"whoami:{request.user.username}")
        return Response({"user": request.user.username, "listings": Listing.objects.count()})


class PublicStatsViewSet(CacheResponseMixin, viewsets.ViewSet):
    cache_timeout = 60
    cache_depends_on = [Review]
    cache_public = True

    def list(self, request: Any) -> Response:
        CALLS.append("public")
        return Response({"listings": Listing.objects.count(), "rating": EXTERNAL["rating"]})


class ShortLivedViewSet(CacheResponseMixin, viewsets.ViewSet):
    cache_timeout = 1
    cache_public = True

    def list(self, request: Any) -> Response:
        CALLS.append("short")
        return Response({"rating": EXTERNAL["rating"]})


@cache_view(timeout=60)
def listing_count_view(request: HttpRequest) -> HttpResponse:
    CALLS.append(f"view:{request.user.username}")
    return JsonResponse({"n": Listing.objects.count(), "user": request.user.username})


router = routers.DefaultRouter()
router.register("listings", ContractListingViewSet, basename="contract-listing")
router.register("whoami", WhoAmIViewSet, basename="contract-whoami")
router.register("public-stats", PublicStatsViewSet, basename="contract-public")
router.register("short", ShortLivedViewSet, basename="contract-short")

urlpatterns = [
    path("api/", include(router.urls)),
    path("count/", listing_count_view),
]

urls = pytest.mark.urls(__name__)


def basic_auth(username: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:pw".encode()).decode()}


@pytest.fixture
def alice() -> User:
    return User.objects.create_user("alice", password="pw")


@pytest.fixture
def bob() -> User:
    return User.objects.create_user("bob", password="pw")


@urls
def test_viewset_responses_are_cached_and_fresh_after_writes(client: Client) -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    first = client.get("/api/listings/")
    assert first.status_code == 200
    with no_queries():
        second = client.get("/api/listings/")
    assert second.status_code == 200
    assert second.content == first.content
    assert CALLS == ["list"]
    a.price = 2
    a.save()
    third = client.get("/api/listings/")
    assert third.json()["results"] == [{"id": a.pk, "city": "Lagos", "price": 2}]
    assert CALLS == ["list", "list"]
    client.get(f"/api/listings/{a.pk}/")
    with no_queries():
        assert client.get(f"/api/listings/{a.pk}/").json()["price"] == 2
    Listing.objects.filter(pk=a.pk).update(price=3)
    assert client.get(f"/api/listings/{a.pk}/").json()["price"] == 3


@urls
def test_viewset_query_string_is_part_of_the_key(client: Client) -> None:
    for price in range(5):
        Listing.objects.create(city="Lagos", price=price)
    page1 = client.get("/api/listings/?page=1").json()
    page2 = client.get("/api/listings/?page=2").json()
    assert [x["price"] for x in page1["results"]] == [0, 1]
    assert [x["price"] for x in page2["results"]] == [2, 3]
    client.get("/api/listings/?page=2&format=json")
    with no_queries():  # the same query in another order
        assert client.get("/api/listings/?format=json&page=2").json()["results"] == page2["results"]


@urls
def test_viewset_etag_and_if_none_match(client: Client) -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    response = client.get("/api/listings/")
    etag = response["ETag"]
    assert etag
    calls = len(CALLS)
    with no_queries():
        not_modified = client.get("/api/listings/", HTTP_IF_NONE_MATCH=etag)
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert len(CALLS) == calls  # not rendered
    assert client.get("/api/listings/", HTTP_IF_NONE_MATCH='"something-else"').status_code == 200
    assert response["Last-Modified"]
    with no_queries():
        head = client.head("/api/listings/")  # HEAD is served from GET's entry
    assert head.status_code == 200
    assert head.content == b""
    assert head["ETag"] == etag
    a.price = 2
    a.save()
    changed = client.get("/api/listings/", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed.json()["results"][0]["price"] == 2
    assert changed["ETag"] != etag
    assert client.get("/api/listings/", HTTP_IF_NONE_MATCH=changed["ETag"]).status_code == 304


@urls
def test_viewset_responses_are_per_user_by_default(client: Client, alice: User, bob: User) -> None:
    Listing.objects.create(city="Lagos")
    assert client.get("/api/whoami/").json()["user"] == ""
    client.force_login(alice)
    assert client.get("/api/whoami/").json()["user"] == "alice"
    client.force_login(bob)
    assert client.get("/api/whoami/").json()["user"] == "bob"
    assert client.get("/api/whoami/").json()["user"] == "bob"
    client.logout()
    assert Client().get("/api/whoami/", **basic_auth("alice")).json()["user"] == "alice"
    assert Client().get("/api/whoami/", **basic_auth("bob")).json()["user"] == "bob"
    assert Client().get("/api/whoami/").json()["user"] == ""
    # One computation per user; the repeated requests were hits.
    assert sorted(CALLS) == ["whoami:", "whoami:alice", "whoami:bob"]
    assert "private" in client.get("/api/whoami/")["Cache-Control"]


@urls
def test_public_viewset_shares_one_entry_and_depends_on_declared_models(
    client: Client, alice: User, bob: User
) -> None:
    listing = Listing.objects.create(city="Lagos")
    assert client.get("/api/public-stats/", **basic_auth("alice")).json() == {"listings": 1, "rating": 4}
    assert client.get("/api/public-stats/", **basic_auth("bob")).json() == {"listings": 1, "rating": 4}
    with no_queries():
        assert client.get("/api/public-stats/").json() == {"listings": 1, "rating": 4}
    assert "public" in client.get("/api/public-stats/")["Cache-Control"]
    assert CALLS == ["public"]
    EXTERNAL["rating"] = 5
    Review.objects.create(listing=listing, rating=5)  # cache_depends_on = [Review]
    assert client.get("/api/public-stats/").json() == {"listings": 1, "rating": 5}
    Listing.objects.create(city="Kano")  # discovered: the view counted listings
    assert client.get("/api/public-stats/").json() == {"listings": 2, "rating": 5}
    assert CALLS == ["public"] * 3


@urls
def test_viewset_cache_timeout(client: Client) -> None:
    assert client.get("/api/short/").json() == {"rating": 4}
    EXTERNAL["rating"] = 5
    assert client.get("/api/short/").json() == {"rating": 4}
    deadline = time.monotonic() + 5
    while client.get("/api/short/").json() == {"rating": 4} and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.get("/api/short/").json() == {"rating": 5}
    assert CALLS == ["short", "short"]


@urls
def test_viewset_writes_are_never_cached(client: Client, alice: User) -> None:
    client.force_login(alice)
    assert client.get("/api/listings/").json()["count"] == 0
    for price in (1, 2):
        response = client.post("/api/listings/", {"city": "Lagos", "price": price})
        assert response.status_code == 201
    assert client.get("/api/listings/").json()["count"] == 2
    assert CALLS == ["list", "list"]


@urls
def test_cache_view_per_user_fresh_and_conditional(client: Client, alice: User) -> None:
    Listing.objects.create(city="Lagos")
    first = client.get("/count/")
    assert first.json() == {"n": 1, "user": ""}
    with no_queries():
        assert client.get("/count/").json() == {"n": 1, "user": ""}
    etag = first["ETag"]
    not_modified = client.get("/count/", HTTP_IF_NONE_MATCH=etag)
    assert not_modified.status_code == 304
    client.force_login(alice)
    assert client.get("/count/").json() == {"n": 1, "user": "alice"}
    Listing.objects.create(city="Kano")
    assert client.get("/count/").json() == {"n": 2, "user": "alice"}
    client.logout()
    assert client.get("/count/", HTTP_IF_NONE_MATCH=etag).status_code == 200
    assert CALLS == ["view:", "view:alice", "view:alice", "view:"]
    assert client.post("/count/").status_code == 200
    assert CALLS[-1] == "view:"  # POST runs the view, uncached
    assert len(CALLS) == 5


def test_cache_view_with_a_request_factory() -> None:
    Listing.objects.create(city="Lagos")
    rf = RequestFactory()

    def get(user: Any) -> HttpResponse:
        request = rf.get("/count/", {"b": "2", "a": "1"})
        request.user = user
        response: HttpResponse = listing_count_view(request)
        return response

    anon = get(AnonymousUser())
    assert json.loads(anon.content) == {"n": 1, "user": ""}
    assert json.loads(get(AnonymousUser()).content) == {"n": 1, "user": ""}
    assert CALLS == ["view:"]
    assert anon["ETag"]


class ContractQuery(graphene.ObjectType):
    listing_count = graphene.Int(city=graphene.String(required=True))
    me = graphene.String()

    @staticmethod
    @cached_resolver(timeout=60)
    def resolve_listing_count(root: Any, info: Any, city: str) -> int:
        CALLS.append(f"count:{city}")
        return Listing.objects.filter(city=city).count()

    @staticmethod
    @cached_resolver(timeout=60)
    def resolve_me(root: Any, info: Any) -> str:
        CALLS.append(f"me:{info.context.user.username}")
        return str(info.context.user.username)


contract_schema = graphene.Schema(query=ContractQuery)


def run_query(query: str, user: Any) -> dict[str, Any]:
    request = RequestFactory().post("/graphql/")
    request.user = user
    result = contract_schema.execute(query, context_value=request)
    assert result.errors is None, result.errors
    assert result.data is not None
    return dict(result.data)


def test_cached_resolver_keys_on_arguments_and_user_and_is_fresh(alice: User, bob: User) -> None:
    Listing.objects.create(city="Lagos")
    q = '{ lagos: listingCount(city: "Lagos") kano: listingCount(city: "Kano") me }'
    assert run_query(q, alice) == {"lagos": 1, "kano": 0, "me": "alice"}
    with no_queries():
        assert run_query(q, alice) == {"lagos": 1, "kano": 0, "me": "alice"}
    assert run_query(q, bob) == {"lagos": 1, "kano": 0, "me": "bob"}
    assert CALLS == ["count:Lagos", "count:Kano", "me:alice", "count:Lagos", "count:Kano", "me:bob"]
    Listing.objects.create(city="Kano")
    assert run_query(q, alice) == {"lagos": 1, "kano": 1, "me": "alice"}


# -- settings --------------------------------------------------------------------------------


def test_settings_defaults(cache_alias: str) -> None:
    city = f"c{uuid.uuid4().hex}"  # a key no other test could have stored
    with override_settings(NEXUS_CACHE={}):
        qs = Listing.objects.filter(city=city).cached()
        key = qs.cache_key()
        assert key is not None
        assert key.startswith("nx:")  # KEY_PREFIX
        assert len(key) <= 250  # hashed: safe for memcached
        assert list(qs) == []
        assert caches["default"].has_key(key)  # CACHE_ALIAS
        caches["default"].delete(key)
    if cache_alias == "redis":
        qs = Listing.objects.filter(city=city).cached()  # TIMEOUT 300 when none is given
        list(qs)
        assert 290 <= caches["redis"].ttl(qs.cache_key()) <= 300  # type: ignore[attr-defined]
        qs = Listing.objects.filter(city=f"{city}x").cached(timeout=60)
        list(qs)
        assert 50 <= caches["redis"].ttl(qs.cache_key()) <= 60  # type: ignore[attr-defined]


def test_documented_defaults_and_reload_on_override() -> None:
    from nexus_cache.conf import DEFAULTS, get_settings

    documented = {
        "CACHE_ALIAS": "default",
        "TIMEOUT": 300,
        "KEY_PREFIX": "nx",
        "ENABLED": True,
        "FAIL_OPEN": True,
    }
    assert {k: DEFAULTS[k] for k in documented} == documented
    assert DEFAULTS["STAMPEDE_LOCK_TIMEOUT"] > 0
    with override_settings(NEXUS_CACHE={}):
        assert {k: getattr(get_settings(), k) for k in documented} == documented
    with override_settings(NEXUS_CACHE={"TIMEOUT": 42, "ENABLED": False}):  # re-read at once
        assert (get_settings().TIMEOUT, get_settings().ENABLED) == (42, False)
    assert get_settings().TIMEOUT == 300


@pytest.mark.parametrize(
    ("config", "check_id"),
    [
        ({"CACHE_ALIAS": "nope"}, "nexus_cache.E005"),
        ({"TIMEOUT": "300"}, "nexus_cache.E003"),
        ({"TIMEOUT": 0}, "nexus_cache.E004"),
        ({"TIMEOUT_SECONDS": 300}, "nexus_cache.E002"),
    ],
)
def test_misconfiguration_is_reported_by_system_checks(config: dict[str, Any], check_id: str) -> None:
    def errors() -> list[str]:
        return [
            m.id or "" for m in run_checks() if m.is_serious() and (m.id or "").startswith("nexus_cache.")
        ]

    assert errors() == []
    with override_settings(NEXUS_CACHE=config):
        assert errors() == [check_id]


def test_cache_alias_and_key_prefix(cache_alias: str, nexus_namespace: str) -> None:
    Listing.objects.create(city="Lagos")
    qs = lagos()
    list(qs)
    key = qs.cache_key()
    assert key is not None
    assert key.startswith(f"{nexus_namespace}:")
    assert caches[cache_alias].has_key(key)
    other = "default" if cache_alias == "redis" else "file"
    assert not caches[other].has_key(key)
    with nexus(KEY_PREFIX=f"{nexus_namespace}x"):
        with queries() as ctx:  # another namespace: nothing shared
            assert lagos().count() == 1
        assert ctx.captured_queries


def test_timeout_setting_bounds_every_entry() -> None:
    @cached  # no timeout given: NEXUS_CACHE["TIMEOUT"]
    def rating() -> int:
        CALLS.append("rating")
        return EXTERNAL["rating"]

    with nexus(TIMEOUT=1):
        assert rating() == 4
        EXTERNAL["rating"] = 5
        assert rating() == 4
        deadline = time.monotonic() + 5
        while rating() == 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert rating() == 5
    assert CALLS == ["rating", "rating"]


def test_enabled_false_reads_the_source_every_time() -> None:
    Listing.objects.create(city="Lagos")
    with nexus(ENABLED=False):
        before = counters()
        for _ in range(2):
            with queries() as ctx:
                assert lagos().count() == 1
                assert Listing.objects.cached().get(city="Lagos").city == "Lagos"
            assert len(ctx.captured_queries) == 2
        assert average_rating(1) == 5
        assert average_rating(1) == 5
        assert CALLS == ["rating:1", "rating:1"]
        assert delta(before)["hits"] == 0


@urls
def test_enabled_false_turns_off_response_caching(client: Client) -> None:
    with nexus(ENABLED=False):
        client.get("/api/public-stats/")
        client.get("/api/public-stats/")
        client.get("/count/")
        client.get("/count/")
    assert CALLS == ["public", "public", "view:", "view:"]


def _down_cache() -> dict[str, Any]:
    return {
        **settings.CACHES,
        "down": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        },
    }


def test_fail_open_reads_fall_through_and_errors_are_counted() -> None:
    Listing.objects.create(city="Lagos")
    with override_settings(CACHES=_down_cache()), nexus(CACHE_ALIAS="down"):
        for n in (1, 2, 3):
            assert lagos().count() == n
            assert listing_prices("Lagos") == [0] * n
            Listing.objects.create(city="Lagos")  # writes succeed too
        data = stats()
        assert data["errors"] >= 1
        assert data["hits"] == 0


def test_fail_open_false_raises_cache_errors() -> None:
    Listing.objects.create(city="Lagos")
    with override_settings(CACHES=_down_cache()), nexus(CACHE_ALIAS="down", FAIL_OPEN=False):
        for _ in range(3):
            with pytest.raises(Exception, match=r"(?i)connect"):
                lagos().count()


def test_stampede_lock_timeout_bounds_the_wait_for_a_stuck_winner() -> None:
    release, started = threading.Event(), threading.Event()

    @cached(timeout=60)
    def slow() -> str:
        if not started.is_set():
            started.set()
            release.wait(10)
            return "winner"
        return "waiter"

    with nexus(STAMPEDE_LOCK_TIMEOUT=0.5):
        winner = threading.Thread(target=slow)
        winner.start()
        try:
            assert started.wait(5)
            t0 = time.monotonic()
            assert slow() == "waiter"  # waited for the winner, then computed itself
            waited = time.monotonic() - t0
        finally:
            release.set()
            winner.join(5)
    assert 0.4 <= waited < 2.0


def test_concurrent_misses_compute_once() -> None:
    calls: list[int] = []
    barrier = threading.Barrier(8)
    results: list[int] = []

    @cached(timeout=60)
    def expensive() -> int:
        calls.append(1)
        time.sleep(0.3)
        return 42

    def worker() -> None:
        barrier.wait(5)
        results.append(expensive())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == [42] * 8
    assert len(calls) == 1


# -- operations: stats(), the command, the signal ---------------------------------------------


def test_stats_counts_hits_misses_invalidations() -> None:
    before = counters()
    Listing.objects.create(city="Lagos")
    lagos().count()
    lagos().count()
    lagos().count()
    Listing.objects.create(city="Lagos")
    assert lagos().count() == 2
    d = delta(before)
    assert d["hits"] == 2
    assert d["misses"] == 2
    assert d["invalidations"] >= 2
    assert d["errors"] == 0
    data = stats()
    assert {"hits", "misses", "invalidations", "errors"} <= set(data)


def test_command_stats() -> None:
    Listing.objects.create(city="Lagos")
    lagos().count()
    lagos().count()
    hits = stats()["hits"]
    out = nexus_cache_command("stats")
    for name in ("hits", "misses", "invalidations", "errors"):
        assert name in out
    line = next(x for x in out.splitlines() if x.strip().startswith("hits"))
    assert line.split(":")[1].strip() == str(hits)


def test_command_invalidate_and_clear() -> None:
    Listing.objects.create(city="Lagos")
    lagos().count()
    assert remote_listing_data() == 4
    average_rating(1)
    EXTERNAL["rating"] = 5
    out = nexus_cache_command("invalidate", "tests.Listing")
    assert "tests.Listing" in out
    with queries() as ctx:
        assert lagos().count() == 1
    assert ctx.captured_queries
    assert remote_listing_data() == 5
    assert average_rating(1) == 5  # depends on Review only: still cached
    with pytest.raises(CommandError):
        nexus_cache_command("invalidate", "tests.NoSuchModel")
    nexus_cache_command("clear")
    assert average_rating(1) == 6
    with queries() as ctx:
        assert lagos().count() == 1
    assert ctx.captured_queries


def test_command_explain() -> None:
    Listing.objects.create(city="Lagos")
    qs = lagos()
    key = qs.cache_key()
    assert key is not None
    before = nexus_cache_command("explain", key)
    assert key in before
    list(qs)
    valid = nexus_cache_command("explain", key)
    assert "VALID" in valid
    assert "INVALID" not in valid
    assert Listing._meta.db_table in valid  # what it depends on
    Listing.objects.create(city="Lagos")
    assert "INVALID" in nexus_cache_command("explain", key)
    fkey = average_rating.key(3)  # type: ignore[attr-defined]
    average_rating(3)
    assert "VALID" in nexus_cache_command("explain", fkey)
    average_rating.invalidate(3)  # type: ignore[attr-defined]
    assert "INVALID" in nexus_cache_command("explain", fkey)


def test_invalidation_signal_is_sent_after_commit_only() -> None:
    received: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        received.append(kwargs)

    invalidated.connect(receiver)
    try:
        Listing.objects.create(city="Lagos")
        assert len(received) == 1
        assert received[0]["alias"] == "default"
        assert any(Listing._meta.db_table in t for t in received[0]["tokens"])
        with transaction.atomic():
            Listing.objects.create(city="Kano")
            assert len(received) == 1  # not before the commit
        assert len(received) == 2
        with transaction.atomic():
            Listing.objects.create(city="Abuja")
            transaction.set_rollback(True)
        assert len(received) == 2  # never for a rollback
        invalidate(Review)
        assert len(received) == 3
        assert any(Review._meta.db_table in t for t in received[2]["tokens"])
    finally:
        invalidated.disconnect(receiver)


# -- tests in a transaction that never commits (Django's TestCase, plain django_db) ----------


@pytest.mark.django_db(transaction=False)
def test_in_a_test_transaction_captured_commits_invalidate_and_other_writes_read_fresh(
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        a = Listing.objects.create(city="Lagos", price=1)
    assert list(lagos().values_list("price", flat=True)) == [1]
    with no_queries():
        assert list(lagos().values_list("price", flat=True)) == [1]
    # Commits (as captured) of one table and then of another, with no read in between.
    with django_capture_on_commit_callbacks(execute=True):
        Review.objects.create(listing=a, rating=1)
    with django_capture_on_commit_callbacks(execute=True):
        a.price = 2
        a.save()
    assert list(lagos().values_list("price", flat=True)) == [2]
    # A write whose commit never comes (the test's transaction): its own reads see it.
    a.price = 3
    a.save()
    assert list(lagos().values_list("price", flat=True)) == [3]
    assert Listing.objects.cached().get(pk=a.pk).price == 3
