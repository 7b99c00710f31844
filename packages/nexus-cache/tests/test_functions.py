"""@cached functions: keys, discovered and declared dependencies, invalidate, async."""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from nexus_cache import cached, invalidate
from nexus_cache._keys import encode

from tests.helpers import no_queries
from tests.models import Host, Listing, Review

pytestmark = pytest.mark.django_db(transaction=True)


class Colour(enum.Enum):
    RED = 1


def test_keys_are_typed_and_canonical() -> None:
    forms = [1, True, 1.0, "1", b"1", decimal.Decimal("1"), (1,), [1], {1}, frozenset({1}), None, Colour.RED]
    assert len({encode(v) for v in forms}) == len(forms)
    assert encode({"a": 1, "b": 2}) == encode({"b": 2, "a": 1})
    assert encode({3, 1, 2}) == encode({2, 3, 1})
    assert encode(decimal.Decimal("1.50")) == encode(decimal.Decimal("1.5"))
    assert encode(uuid.UUID(int=5)) == encode(uuid.UUID(int=5))
    aware = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    assert encode(aware) != encode(aware.replace(tzinfo=None))
    assert encode(datetime.date(2026, 1, 1)) != encode(datetime.datetime(2026, 1, 1))
    assert encode(datetime.timedelta(seconds=3)) != encode(3)
    assert encode(Listing) == "Mtests.listing"


def test_unkeyable_arguments_raise_with_advice() -> None:
    with pytest.raises(TypeError, match="pass key="):
        encode(object())
    with pytest.raises(TypeError, match="unsaved"):
        encode(Listing(city="x"))


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.binary(max_size=10),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
    st.dates(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.text(max_size=5), inner, max_size=4),
    ),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(values, values)
def test_encoding_is_injective_on_distinct_values(a: Any, b: Any) -> None:
    def normal(v: Any) -> Any:
        # Values that are equal and of the same types encode the same.
        if isinstance(v, decimal.Decimal):
            return ("D", v.normalize())
        if isinstance(v, float):
            return ("f", v if v != 0 else 0.0)
        if isinstance(v, list | tuple):
            return (type(v).__name__, tuple(normal(x) for x in v))
        if isinstance(v, dict):
            return ("d", tuple(sorted((k, repr(normal(x))) for k, x in v.items())))
        return (type(v).__name__, v)

    if repr(normal(a)) != repr(normal(b)):
        assert encode(a) != encode(b)
    else:
        assert encode(a) == encode(b)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=5), st.integers(), max_size=6))
def test_mapping_order_never_matters(d: dict[str, int]) -> None:
    assert encode(d) == encode(dict(reversed(list(d.items()))))


def test_positional_and_keyword_calls_share_a_key() -> None:
    calls: list[tuple[int, int]] = []

    @cached(timeout=60)
    def add(a: int, b: int = 2) -> int:
        calls.append((a, b))
        return a + b

    assert add(1) == 3
    assert add(1, 2) == 3
    assert add(a=1, b=2) == 3
    assert add(1, b=3) == 4
    assert calls == [(1, 2), (1, 3)]
    assert add.key(1) == add.key(a=1, b=2)
    assert add.key(1) != add.key(True)


def test_discovered_dependencies_and_row_precision() -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    b = Listing.objects.create(city="Lagos", price=2)
    calls: list[int] = []

    @cached(timeout=60)
    def price(pk: int) -> int:
        calls.append(pk)
        return Listing.objects.get(pk=pk).price

    assert (price(a.pk), price(b.pk)) == (1, 2)
    b.price = 3
    b.save()
    with no_queries():
        assert price(a.pk) == 1
    assert price(b.pk) == 3
    assert calls == [a.pk, b.pk, b.pk]


def test_model_instances_key_by_pk() -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    calls: list[int] = []

    @cached
    def reviews(listing: Listing) -> int:
        calls.append(listing.pk)
        return Review.objects.filter(listing=listing).count()

    assert reviews(a) == 0
    assert reviews(Listing.objects.get(pk=a.pk)) == 0
    assert len(calls) == 1
    Review.objects.create(listing=a, rating=5)
    assert reviews(a) == 1


def test_depends_on_adds_models_the_function_does_not_query() -> None:
    calls: list[int] = []
    counter = {"n": 0}

    @cached(timeout=60, depends_on=[Review, "tests.Host"])
    def external() -> int:
        calls.append(1)
        counter["n"] += 1
        return counter["n"]

    assert external() == 1
    assert external() == 1
    Review.objects.create(listing=Listing.objects.create(city="x"), rating=1)
    assert external() == 2
    Host.objects.create(name="h")
    assert external() == 3


def test_invalidate_one_key_all_keys_and_a_model() -> None:
    n = {"v": 0}

    @cached(timeout=60)
    def value(x: int) -> tuple[int, int]:
        n["v"] += 1
        return x, n["v"]

    assert value(1) == (1, 1)
    assert value(2) == (2, 2)
    value.invalidate(1)
    assert value(1) == (1, 3)
    assert value(2) == (2, 2)
    value.invalidate_all()
    assert value(2) == (2, 4)


def test_invalidate_model_instance_and_label() -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    b = Listing.objects.create(city="Lagos", price=2)
    calls: list[int] = []

    @cached(timeout=60)
    def price(pk: int) -> int:
        calls.append(pk)
        return Listing.objects.get(pk=pk).price

    price(a.pk), price(b.pk)
    invalidate(a)
    price(a.pk), price(b.pk)
    assert calls == [a.pk, b.pk, a.pk]
    invalidate("tests.Listing")
    price(a.pk), price(b.pk)
    assert calls == [a.pk, b.pk, a.pk, a.pk, b.pk]
    invalidate(Listing)
    price(a.pk)
    assert calls[-1] == a.pk


def test_invalidate_rejects_what_it_cannot_resolve() -> None:
    with pytest.raises(LookupError, match=r"app_label\.ModelName"):
        invalidate("tests.Nope")
    with pytest.raises(TypeError, match="model class"):
        invalidate(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no primary key"):
        invalidate(Listing(city="x"))


def test_invalidate_inside_a_transaction_waits_for_commit() -> None:
    n = {"v": 0}

    @cached(timeout=60)
    def value() -> int:
        n["v"] += 1
        return n["v"]

    assert value() == 1
    with transaction.atomic():
        value.invalidate()
        assert value() == 2  # bypassed inside: this transaction made it dirty
    assert value() == 3  # replaced at commit
    assert value() == 3


def test_nested_cached_calls_propagate_dependencies() -> None:
    a = Listing.objects.create(city="Lagos", price=1)

    @cached(timeout=60)
    def inner() -> int:
        return Listing.objects.get(pk=a.pk).price

    @cached(timeout=60)
    def outer() -> int:
        return inner() * 10

    assert inner() == 1  # inner is cached first: outer gets it as a hit
    assert outer() == 10
    Listing.objects.filter(pk=a.pk).update(price=2)
    assert outer() == 20


def test_exceptions_are_not_cached() -> None:
    calls: list[int] = []

    @cached(timeout=60)
    def boom() -> None:
        calls.append(1)
        raise ValueError("no")

    for _ in range(2):
        with pytest.raises(ValueError, match="no"):
            boom()
    assert calls == [1, 1]


def test_async_functions() -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    calls: list[int] = []

    @cached(timeout=60)
    async def price(pk: int) -> int:
        calls.append(pk)
        return (await Listing.objects.aget(pk=pk)).price

    assert async_to_sync(price)(a.pk) == 1
    assert async_to_sync(price)(a.pk) == 1
    assert calls == [a.pk]
    Listing.objects.filter(pk=a.pk).update(price=5)
    assert async_to_sync(price)(a.pk) == 5


def test_methods_with_a_key_function() -> None:
    class Repo:
        @cached(timeout=60, key=lambda self, city: city)
        def count(self, city: str) -> int:
            return Listing.objects.filter(city=city).count()

    Listing.objects.create(city="Lagos")
    assert Repo().count("Lagos") == 1
    with no_queries():
        assert Repo().count("Lagos") == 1
    assert "cached" in repr(Repo.count)


def test_invalid_timeout() -> None:
    with pytest.raises(ValueError, match="positive"):
        cached(timeout=-1)(lambda: 1)
