"""Property tests: random data with ties and NULLs, random orderings, random page sizes.

Walking every page forwards and backwards returns every row exactly once, in order; rows
inserted or deleted between requests cause no duplicate and no skip among the rows that
existed throughout.
"""

from __future__ import annotations

import datetime
import decimal
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from nexus_api.keyset import Keyset

from tests.keyset_helpers import expected_ids, walk_backward, walk_forward
from tests.keyset_models import KsHost, KsItem

# CI keeps the run short; HYPOTHESIS_EXAMPLES=500 explores more locally.
EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "40"))
PROPERTY_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

T0 = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)

rows = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["a", "b", "ab"]),
        "rank": st.none() | st.integers(-1, 2),
        "score": st.none() | st.sampled_from([decimal.Decimal("0.50"), decimal.Decimal("-1.25")]),
        "created_at": st.integers(0, 3).map(lambda h: T0 + datetime.timedelta(hours=h)),
        "day": st.none() | st.sampled_from([datetime.date(2024, 1, 1), datetime.date(2023, 12, 31)]),
        "host": st.none() | st.integers(0, 2),
    }
)
FIELDS = ["name", "rank", "score", "created_at", "day", "host__name", "host"]
orderings = st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True).flatmap(
    lambda names: st.tuples(*(st.sampled_from([n, f"-{n}"]) for n in names))
)


def create(data: list[dict[str, Any]], hosts: list[KsHost]) -> None:
    KsItem.objects.bulk_create(
        KsItem(**{**row, "host": None if row["host"] is None else hosts[row["host"]]}) for row in data
    )


def make_hosts() -> list[KsHost]:
    return [KsHost.objects.create(name=name) for name in ("b", None, "a")]


class KeysetProperties(TestCase):
    @PROPERTY_SETTINGS
    @given(data=st.lists(rows, max_size=25), ordering=orderings, size=st.integers(1, 6))
    def test_walks_return_every_row_once_in_order(
        self, data: list[dict[str, Any]], ordering: tuple[str, ...], size: int
    ) -> None:
        create(data, make_hosts())
        queryset = KsItem.objects.all()
        keyset = Keyset.for_queryset(queryset, ordering)
        everything = list(KsItem.objects.select_related("host"))
        expected = expected_ids(everything, [key.term for key in keyset.keys])
        forward = walk_forward(keyset, queryset, size)
        assert [pk for page in forward for pk in page] == expected
        assert all(len(page) == size for page in forward[:-1])
        backward = walk_backward(keyset, queryset, size)
        assert [pk for page in backward for pk in page] == expected

    @PROPERTY_SETTINGS
    @given(
        data=st.lists(rows, min_size=1, max_size=20),
        ordering=orderings,
        size=st.integers(1, 5),
        changes=st.lists(
            st.tuples(st.lists(rows, max_size=3), st.lists(st.integers(0, 10_000), max_size=3)), max_size=8
        ),
        backwards=st.booleans(),
    )
    def test_changes_between_pages_never_duplicate_or_skip(
        self,
        data: list[dict[str, Any]],
        ordering: tuple[str, ...],
        size: int,
        changes: list[tuple[list[dict[str, Any]], list[int]]],
        backwards: bool,
    ) -> None:
        hosts = make_hosts()
        create(data, hosts)
        queryset = KsItem.objects.all()
        keyset = Keyset.for_queryset(queryset, ordering)
        initial = set(KsItem.objects.values_list("pk", flat=True))
        deleted: set[int] = set()
        pages: list[list[int]] = []
        page = keyset.page(queryset, size=size, reverse=backwards)
        step = 0
        while True:
            pages.append([row.pk for row in page.rows])
            token = keyset.previous_cursor(page) if backwards else keyset.next_cursor(page)
            if token is None:
                break
            if step < len(changes):
                inserts, picks = changes[step]
                create(inserts, hosts)
                alive = sorted(KsItem.objects.values_list("pk", flat=True))
                doomed = {alive[p % len(alive)] for p in picks} if alive else set()
                KsItem.objects.filter(pk__in=doomed).delete()
                deleted |= doomed
            step += 1
            page = keyset.page(queryset, size=size, cursor=keyset.decode(token))
        seen = [pk for page_ids in (pages[::-1] if backwards else pages) for pk in page_ids]
        assert len(seen) == len(set(seen))
        assert initial - deleted <= set(seen)
        # Rows never change their sort values here, so what was seen is in list order.
        current = {item.pk: item for item in KsItem.objects.select_related("host").filter(pk__in=seen)}
        survivors = [pk for pk in seen if pk in current]
        assert survivors == expected_ids(current.values(), [key.term for key in keyset.keys])

    @PROPERTY_SETTINGS
    @given(
        data=st.lists(rows, min_size=1, max_size=20),
        ordering=orderings,
        size=st.integers(1, 5),
        deletions=st.lists(st.lists(st.integers(0, 10_000), max_size=4), max_size=6),
        backwards=st.booleans(),
    )
    def test_neighbour_flags_are_exact_after_deletions(
        self,
        data: list[dict[str, Any]],
        ordering: tuple[str, ...],
        size: int,
        deletions: list[list[int]],
        backwards: bool,
    ) -> None:
        create(data, make_hosts())
        queryset = KsItem.objects.all()
        keyset = Keyset.for_queryset(queryset, ordering)
        terms = [key.term for key in keyset.keys]
        page = keyset.page(queryset, size=size, reverse=backwards)
        for step in range(len(deletions) + 10):
            order = expected_ids(KsItem.objects.select_related("host"), terms)
            ids = [row.pk for row in page.rows]
            if ids:
                assert page.has_previous == (order.index(ids[0]) > 0)
                assert page.has_next == (order.index(ids[-1]) < len(order) - 1)
            else:
                # Nothing on the page's side of the cursor: every row is on the other side.
                assert (page.has_next, page.has_previous) == (
                    (bool(order), False) if backwards else (False, bool(order))
                )
            token = keyset.previous_cursor(page) if backwards else keyset.next_cursor(page)
            if token is None:
                break
            alive = sorted(KsItem.objects.values_list("pk", flat=True))
            if step < len(deletions) and alive:
                KsItem.objects.filter(pk__in={alive[p % len(alive)] for p in deletions[step]}).delete()
            page = keyset.page(queryset, size=size, cursor=keyset.decode(token))
