"""Pending filters raise what Django's filter() raises, at the call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import EmptyResultSet, FieldError
from django.db.models import Count, F, Q, QuerySet
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


# -- shared Queries (copy-on-write) --------------------------------------------------------------

OPERATIONS: dict[str, Callable[[QuerySet[Any]], QuerySet[Any]]] = {
    "filter": lambda qs: qs.filter(city="Lagos"),
    "filter_q": lambda qs: qs.filter(Q(price__gt=1) | Q(host__name="Ada")),
    "exclude": lambda qs: qs.exclude(price__gte=5),
    "order_by": lambda qs: qs.order_by("-price", "id"),
    "all": lambda qs: qs.all(),
    "distinct": lambda qs: qs.distinct(),
    "select_related": lambda qs: qs.select_related("host"),
    "only": lambda qs: qs.only("city"),
    "annotate": lambda qs: qs.annotate(n=Count("reviews")),
    "values": lambda qs: qs.values("city", "price"),
    "cached": lambda qs: qs.cached() if hasattr(qs, "cached") else qs.all(),
    "uncached": lambda qs: qs.uncached() if hasattr(qs, "uncached") else qs.all(),
    "sticky": lambda qs: qs._next_is_sticky().filter(amenities__name="wifi"),  # type: ignore[attr-defined]
    "query": lambda qs: (qs.query, qs)[1],  # reading .query makes a queryset own its Query
    # Changing qs.query in place (as code that reaches into it does) changes that one only.
    "poke": lambda qs: (qs.query.add_ordering("city"), qs)[1],
}


def sql_of(qs: QuerySet[Any]) -> Any:
    try:
        return qs.query.sql_with_params()
    except EmptyResultSet:
        return "empty"
    except FieldError as exc:  # both refuse some combinations (select_related + only)
        return str(exc)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(sorted(OPERATIONS)), max_size=6), st.data())
def test_querysets_never_share_changes(ops: list[str], data: st.DataObject) -> None:
    """Every queryset of a chain (and its branches) compiles to what Django's compiles to,
    whatever was done to the others after it was made."""
    cached_chain: list[QuerySet[Any]] = [Listing.objects.all()]
    plain_chain: list[QuerySet[Any]] = [QuerySet(Listing)]
    for op in ops:
        # Branch from any earlier queryset, not only the last one.
        i = data.draw(st.integers(0, len(cached_chain) - 1))
        try:
            plain = OPERATIONS[op](plain_chain[i])
        except TypeError:  # e.g. only() after values(): Django refuses, and so must we
            with pytest.raises(TypeError):
                OPERATIONS[op](cached_chain[i])
            continue
        cached_chain.append(OPERATIONS[op](cached_chain[i]))
        plain_chain.append(plain)
    for cached, plain in reversed(list(zip(cached_chain, plain_chain, strict=True))):
        assert sql_of(cached) == sql_of(plain)
    from nexus_cache.models import _pristine_queries

    assert sql_of(QuerySet(Listing)) == _pristine_queries[Listing].sql_with_params()
    assert not _pristine_queries[Listing].where.children


def test_related_manager_deferred_filter_survives_sharing() -> None:
    host = Host(pk=7)
    base = host.listings.cached()  # type: ignore[attr-defined]
    branch = base.filter(city="Lagos")
    assert "host_id" in str(base.query)
    assert "host_id" in str(branch.query)
    assert "Lagos" in str(branch.query)
