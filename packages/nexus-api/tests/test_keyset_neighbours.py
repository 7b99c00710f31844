"""Exact ``has_previous`` / ``has_next`` on the side a cursor came from, without a COUNT.

After a forward step the engine knows whether rows precede the page from the row at the
cursor (fetched in the same query); only when that row is gone does it ask the database
with one ``EXISTS`` probe. DRF's CursorPagination (and relay's minimum) reports a previous
page whenever a cursor was followed, even when every row before it was deleted.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from rest_framework.test import APIClient

from nexus_api.keyset import Keyset

from tests.keyset_models import KsItem
from tests.keyset_schema import schema

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)


@pytest.fixture
def items() -> list[KsItem]:
    for i in range(10):
        KsItem.objects.create(
            name=f"n{i}", rank=i % 3 or None, created_at=T0 + datetime.timedelta(minutes=i // 2)
        )
    return list(KsItem.objects.order_by("-created_at", "id"))


def sql_of(context: Any) -> list[str]:
    return [query["sql"].upper() for query in context.captured_queries]


def test_forward_step_knows_the_previous_page_in_one_query(
    items: list[KsItem], django_assert_num_queries: Any
) -> None:
    keyset, queryset = Keyset(KsItem, ["-created_at"]), KsItem.objects.all()
    first = keyset.page(queryset, size=4)
    assert (first.has_previous, first.has_next) == (False, True)
    cursor = keyset.decode(keyset.next_cursor(first) or "")
    with django_assert_num_queries(1):
        second = keyset.page(queryset, size=4, cursor=cursor)
    assert [row.pk for row in second.rows] == [row.pk for row in items[4:8]]
    assert (second.has_previous, second.has_next) == (True, True)
    with django_assert_num_queries(1):
        last = keyset.page(queryset, size=4, cursor=keyset.decode(keyset.next_cursor(second) or ""))
    assert (last.has_previous, last.has_next) == (True, False)


def test_deleted_cursor_row_costs_one_exists_probe(
    items: list[KsItem], django_assert_num_queries: Any
) -> None:
    keyset, queryset = Keyset(KsItem, ["-created_at"]), KsItem.objects.all()
    first = keyset.page(queryset, size=4)
    cursor = keyset.decode(keyset.next_cursor(first) or "")
    KsItem.objects.filter(pk=first.rows[-1].pk).delete()
    with django_assert_num_queries(2) as context:
        page = keyset.page(queryset, size=4, cursor=cursor)
    assert [row.pk for row in page.rows] == [row.pk for row in items[4:8]]
    assert page.has_previous
    page_sql, probe = sql_of(context)
    assert "COUNT" not in page_sql + probe
    assert "LIMIT 1" in probe
    # Everything before the page is gone: no previous page, and the previous cursor is withheld.
    KsItem.objects.filter(pk__in=[row.pk for row in first.rows]).delete()
    with django_assert_num_queries(2):
        page = keyset.page(queryset, size=4, cursor=cursor)
    assert [row.pk for row in page.rows] == [row.pk for row in items[4:8]]
    assert not page.has_previous
    assert keyset.previous_cursor(page) is None


def test_backward_step_knows_the_next_page(items: list[KsItem], django_assert_num_queries: Any) -> None:
    keyset, queryset = Keyset(KsItem, ["-created_at"]), KsItem.objects.all()
    tail = keyset.page(queryset, size=3, reverse=True)
    assert [row.pk for row in tail.rows] == [row.pk for row in items[-3:]]
    assert (tail.has_previous, tail.has_next) == (True, False)
    cursor = keyset.decode(keyset.previous_cursor(tail) or "")
    with django_assert_num_queries(1):
        before = keyset.page(queryset, size=3, cursor=cursor)
    assert (before.has_previous, before.has_next) == (True, True)
    KsItem.objects.filter(pk__in=[row.pk for row in tail.rows]).delete()
    with django_assert_num_queries(2):
        before = keyset.page(queryset, size=3, cursor=cursor)
    assert [row.pk for row in before.rows] == [row.pk for row in items[4:7]]
    assert (before.has_previous, before.has_next) == (True, False)
    assert keyset.next_cursor(before) is None


def test_empty_page_after_a_cursor(items: list[KsItem]) -> None:
    keyset, queryset = Keyset(KsItem, ["-created_at"]), KsItem.objects.all()
    position = keyset.position(items[-1])
    page = keyset.page(queryset, size=3, cursor=keyset.decode(keyset.encode(position)))
    assert (page.rows, page.has_previous, page.has_next) == ([], True, False)
    KsItem.objects.all().delete()
    page = keyset.page(queryset, size=3, cursor=keyset.decode(keyset.encode(position)))
    assert (page.rows, page.has_previous, page.has_next) == ([], False, False)


def links(response: Any) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]*)>; rel="(\w+)"', response.headers.get("Link", ""))}


@pytest.mark.urls("tests.keyset_urls")
def test_rest_previous_link_is_exact(items: list[KsItem]) -> None:
    client = APIClient()
    first = client.get("/items/").json()
    second_url = first["next"]
    assert client.get(second_url).json()["previous"] is not None
    KsItem.objects.filter(pk__in=[row["id"] for row in first["results"]]).delete()
    response = client.get(second_url)
    assert response.json()["previous"] is None
    assert set(links(response)) == {"next", "first"}


GRAPHQL = """
query($first: Int, $after: String, $last: Int, $before: String) {
  items(first: $first, after: $after, last: $last, before: $before) {
    edges { node { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


def test_graphql_page_info_is_exact_on_both_sides(items: list[KsItem]) -> None:
    def run(**variables: Any) -> dict[str, Any]:
        result = schema.execute(GRAPHQL, variable_values=variables)
        assert result.errors is None, result.errors
        assert result.data is not None
        return result.data["items"]  # type: ignore[no-any-return]

    first = run(first=3)
    after = first["pageInfo"]["endCursor"]
    assert run(first=3, after=after)["pageInfo"]["hasPreviousPage"] is True
    KsItem.objects.filter(pk__in=[int(edge["node"]["id"]) for edge in first["edges"]]).delete()
    assert run(first=3, after=after)["pageInfo"]["hasPreviousPage"] is False
    tail = run(last=3)
    before = tail["pageInfo"]["startCursor"]
    assert run(last=3, before=before)["pageInfo"]["hasNextPage"] is True
    KsItem.objects.filter(pk__in=[int(edge["node"]["id"]) for edge in tail["edges"]]).delete()
    assert run(last=3, before=before)["pageInfo"]["hasNextPage"] is False
