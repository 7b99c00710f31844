"""Every write path, followed by a cached read, returns fresh data."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection, transaction

from tests.helpers import no_queries, queries
from tests.models import Amenity, Host, Hotel, Listing, Place

pytestmark = pytest.mark.django_db(transaction=True)


def cities() -> list[tuple[str, int]]:
    return [(x.city, x.price) for x in Listing.objects.cached(timeout=60).order_by("id")]


def _raw(sql: str, params: list[object] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


WRITES: dict[str, Callable[[Listing], None]] = {
    "save": lambda a: (setattr(a, "price", 99), a.save()),  # type: ignore[dict-item]
    "save_update_fields": lambda a: (setattr(a, "price", 99), a.save(update_fields=["price"])),  # type: ignore[dict-item]
    "create": lambda a: Listing.objects.create(city="Abuja", price=99),  # type: ignore[dict-item]
    "delete": lambda a: a.delete(),  # type: ignore[dict-item]
    "queryset_update": lambda a: Listing.objects.filter(pk=a.pk).update(price=99),  # type: ignore[dict-item]
    "queryset_update_filter": lambda a: Listing.objects.filter(city="Lagos").update(price=99),  # type: ignore[dict-item]
    "queryset_delete": lambda a: Listing.objects.filter(city="Lagos").delete(),  # type: ignore[dict-item]
    "bulk_create": lambda a: Listing.objects.bulk_create([Listing(city="Kano", price=99)]),  # type: ignore[dict-item]
    "bulk_update": lambda a: Listing.objects.bulk_update(
        [Listing(pk=a.pk, city="Lagos", price=99)], ["price"]
    ),  # type: ignore[dict-item]
    "update_or_create": lambda a: Listing.objects.update_or_create(pk=a.pk, defaults={"price": 99}),  # type: ignore[dict-item]
    "raw_update": lambda a: _raw("UPDATE tests_listing SET price = 99"),
    "raw_update_pk": lambda a: _raw("UPDATE tests_listing SET price = %s WHERE id = %s", [99, a.pk]),
    "raw_insert": lambda a: _raw("INSERT INTO tests_listing (city, price) VALUES ('Jos', 99)"),
    "raw_delete": lambda a: _raw("DELETE FROM tests_listing"),
    "raw_with_update": lambda a: _raw(
        "WITH moved AS (UPDATE tests_listing SET price = 99 RETURNING id) SELECT count(*) FROM moved"
    ),
}


_PG_ONLY = {"raw_with_update"}  # SQLite has no data-modifying WITH


@pytest.mark.parametrize(
    "write",
    [pytest.param(w, marks=[pytest.mark.requires_postgres] if w in _PG_ONLY else []) for w in WRITES],
    ids=list(WRITES),
)
def test_write_then_cached_read_is_fresh(write: str) -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    before = cities()
    with no_queries():
        assert cities() == before
    WRITES[write](a)
    expected = [(x.city, x.price) for x in Listing.objects.order_by("id")]
    assert expected != before
    assert cities() == expected
    with no_queries():
        assert cities() == expected


@pytest.mark.requires_postgres
def test_truncate_invalidates() -> None:
    Listing.objects.create(city="Lagos", price=1)
    assert cities() == [("Lagos", 1)]
    _raw("TRUNCATE TABLE tests_listing CASCADE")
    assert cities() == []


def test_unparseable_write_invalidates_everything_on_the_database() -> None:
    Listing.objects.create(city="Lagos", price=1)
    assert cities() == [("Lagos", 1)]
    # A statement we cannot attribute: conservative, the whole database's epoch moves.
    _raw("CREATE TABLE nexus_cache_scratch (id integer)")
    _raw("DROP TABLE nexus_cache_scratch")
    with queries() as ctx:
        assert cities() == [("Lagos", 1)]
    assert len(ctx) == 1


def _amenity_names(listing: Listing) -> list[str]:
    return list(
        Amenity.objects.cached().filter(listings=listing).order_by("name").values_list("name", flat=True)
    )


@pytest.mark.parametrize("op", ["add", "remove", "set", "clear", "reverse_add"])
def test_m2m_changes_invalidate(op: str) -> None:
    listing = Listing.objects.create(city="Lagos")
    wifi, pool = Amenity.objects.create(name="wifi"), Amenity.objects.create(name="pool")
    listing.amenities.add(wifi)
    assert _amenity_names(listing) == ["wifi"]
    with no_queries():
        assert _amenity_names(listing) == ["wifi"]
    if op == "add":
        listing.amenities.add(pool)
    elif op == "remove":
        listing.amenities.remove(wifi)
    elif op == "set":
        listing.amenities.set([pool])
    elif op == "clear":
        listing.amenities.clear()
    else:
        pool.listings.add(listing)
    expected = list(listing.amenities.order_by("name").values_list("name", flat=True))
    assert _amenity_names(listing) == expected


def test_multi_table_inheritance_parent_and_child() -> None:
    hotel = Hotel.objects.create(name="Eko", stars=4)
    assert [(h.name, h.stars) for h in Hotel.objects.cached()] == [("Eko", 4)]
    assert [p.name for p in Place.objects.cached()] == ["Eko"]
    hotel.name = "Eko Hotel"  # parent table
    hotel.save()
    assert [(h.name, h.stars) for h in Hotel.objects.cached()] == [("Eko Hotel", 4)]
    assert [p.name for p in Place.objects.cached()] == ["Eko Hotel"]
    Hotel.objects.filter(pk=hotel.pk).update(stars=5)  # child table
    assert [(h.name, h.stars) for h in Hotel.objects.cached()] == [("Eko Hotel", 5)]
    Place.objects.filter(pk=hotel.pk).update(name="Renamed")  # parent via the parent model
    assert Hotel.objects.cached().get(pk=hotel.pk).name == "Renamed"
    hotel.delete()
    assert list(Hotel.objects.cached()) == []
    assert list(Place.objects.cached()) == []


def test_write_to_row_2_leaves_row_1_cached_get_a_hit() -> None:
    one = Listing.objects.create(city="Lagos", price=1)
    two = Listing.objects.create(city="Lagos", price=2)
    assert Listing.objects.cached().get(pk=one.pk).price == 1
    assert Listing.objects.cached().get(pk=two.pk).price == 2
    two.price = 20
    two.save()
    Listing.objects.filter(pk=two.pk).update(price=22)
    Listing.objects.create(city="Kano")  # an insert cannot change a row that was found
    with no_queries():
        assert Listing.objects.cached().get(pk=one.pk).price == 1
    assert Listing.objects.cached().get(pk=two.pk).price == 22
    # A bulk write whose rows are unknown invalidates every row of the table.
    Listing.objects.filter(city="Kano").update(price=5)
    with queries() as ctx:
        assert Listing.objects.cached().get(pk=one.pk).price == 1
    assert len(ctx) == 1


def test_cached_does_not_exist_is_invalidated_by_an_insert() -> None:
    with pytest.raises(Listing.DoesNotExist):
        Listing.objects.cached().get(pk=4242)
    with no_queries(), pytest.raises(Listing.DoesNotExist):
        Listing.objects.cached().get(pk=4242)
    Listing.objects.create(pk=4242, city="Lagos")
    assert Listing.objects.cached().get(pk=4242).city == "Lagos"


def test_raw_update_that_moves_a_primary_key_counts_as_an_insert() -> None:
    a = Listing.objects.create(city="Lagos")
    with pytest.raises(Listing.DoesNotExist):
        Listing.objects.cached().get(pk=a.pk + 1000)
    _raw("UPDATE tests_listing SET id = %s WHERE id = %s", [a.pk + 1000, a.pk])
    assert Listing.objects.cached().get(pk=a.pk + 1000).city == "Lagos"


def test_writes_on_other_tables_do_not_invalidate() -> None:
    Listing.objects.create(city="Lagos")
    cities()
    Host.objects.create(name="Ada")
    with no_queries():
        cities()


def test_delete_cascade_invalidates_the_dependents() -> None:
    host = Host.objects.create(name="Ada")
    Listing.objects.create(city="Lagos", host=host)
    assert cities() == [("Lagos", 0)]
    host.delete()  # Django's collector deletes the listing too
    assert cities() == []


def test_write_inside_atomic_invalidates_on_commit() -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    assert cities() == [("Lagos", 1)]
    with transaction.atomic():
        a.price = 2
        a.save()
        Host.objects.create(name="x")
    assert cities() == [("Lagos", 2)]
