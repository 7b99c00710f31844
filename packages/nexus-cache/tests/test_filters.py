"""Pending filters raise what Django's filter() raises, at the call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import EmptyResultSet, FieldError
from django.db.models import F, Q, QuerySet
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.models import Amenity, Host, Listing

PATHS = [
    "city",
    "city__in",
    "city__icontains",
    "city__lower",
    "price",
    "price__gt",
    "price__in",
    "price__range",
    "pk",
    "id__lte",
    "host",
    "host__in",
    "host_id",
    "host__name",
    "host__name__startswith",
    "host__isnull",
    "reviews__rating",
    "amenities",
    "amenities__name",
    "nope",
    "price__nope",
    "host__nope",
]
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from(["", "12", "abc", "1.5", "Lagos"]),
    st.lists(st.sampled_from([1, 2, "x", None]), max_size=3),
    st.tuples(st.integers(0, 3), st.integers(0, 3)),
    st.sampled_from([F("price"), F("nope"), F("host__name")]),
    st.sampled_from([Host(pk=1), Amenity(pk=1), Listing(pk=2)]),
)


def outcome(build: Callable[[], QuerySet[Any]]) -> Any:
    """What building (and then compiling) a queryset does: its SQL, or the error it raised."""
    try:
        qs = build()
    except Exception as exc:
        return ("at call", type(exc), str(exc))
    try:
        return ("sql", *qs.query.sql_with_params())
    except EmptyResultSet:
        return ("empty",)
    except Exception as exc:
        return ("at evaluation", type(exc), str(exc))


def both(call: Callable[[QuerySet[Any]], QuerySet[Any]]) -> tuple[Any, Any]:
    return outcome(lambda: call(Listing.objects.cached())), outcome(lambda: call(QuerySet(Listing)))


@settings(max_examples=400, deadline=None)
@given(
    kwargs=st.dictionaries(st.sampled_from(PATHS), VALUES, max_size=2),
    negate=st.booleans(),
    as_q=st.booleans(),
)
def test_pending_filters_fail_exactly_like_django(kwargs: dict[str, Any], negate: bool, as_q: bool) -> None:
    def call(qs: QuerySet[Any]) -> QuerySet[Any]:
        args: tuple[Any, ...] = ()
        kw = kwargs
        if as_q and kwargs:
            first, *rest = kwargs.items()
            args, kw = (Q(first) | Q(*rest),) if rest else (Q(first),), {}
        return qs.exclude(*args, **kw) if negate else qs.filter(*args, **kw)

    cached, plain = both(call)
    assert cached == plain
    # The same shape again (now remembered) with the same values: still the same.
    assert both(call) == (cached, plain)


SAME_TYPE_PAIRS = [
    ("12", "abc"),
    ("1.5", "12"),
    ("", "Lagos"),
    ([1, 2], [1, 3]),
    (["1", "x"], ["2", "3"]),
    ((0, 1), (2, 3)),
    (Host(pk=1), Host(pk=2)),
    (Host(pk=1), Host()),  # unsaved
    (True, False),
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("first", "second"), SAME_TYPE_PAIRS)
def test_a_remembered_shape_still_checks_every_value(path: str, first: Any, second: Any) -> None:
    for value in (first, second, first):
        for negate in (False, True):
            cached, plain = both(
                lambda qs, v=value, n=negate: qs.exclude(**{path: v}) if n else qs.filter(**{path: v})
            )
            assert cached == plain, (path, value, negate)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda qs: qs.filter(nope=1), FieldError),
        (lambda qs: qs.exclude(price__nope=1), FieldError),
        (lambda qs: qs.filter(Q(city="x") | Q(nope=1)), FieldError),
        (lambda qs: qs.filter(price=F("nope")), FieldError),
        (lambda qs: qs.filter(price="abc"), ValueError),
        (lambda qs: qs.filter(host=Amenity(pk=1)), ValueError),
        (lambda qs: qs.filter(price__gt=None), ValueError),
    ],
)
def test_errors_are_raised_at_the_call_even_for_remembered_shapes(call: Any, error: type[Exception]) -> None:
    # Remember each shape with a valid value first: the value check must still run.
    Listing.objects.cached().filter(price="5")
    Listing.objects.cached().filter(host=Host(pk=1))
    for _ in range(2):
        with pytest.raises(error):
            call(Listing.objects.cached())


def test_valid_filters_stay_pending() -> None:
    # The speed the laziness is for: a validated filter is not added to the Query.
    qs = Listing.objects.cached().filter(city="Lagos", price__gt=3)
    assert qs._nx_pending
    assert Listing.objects.filter(Q(city="a") | Q(host__name="b"))._nx_pending
    # Shapes Django builds subqueries or annotations for are applied at once.
    assert not Listing.objects.filter(pk__in=Listing.objects.filter(city="x"))._nx_pending
    assert not Listing.objects.values(c=F("city")).filter(c="x")._nx_pending
