"""PageNumberPagination: DRF's interface, count policies, a maximum page."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from nexus_api.pagination import PageNumberPagination, PageTooDeep

from tests.keyset_models import KsItem

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.keyset_urls")]

T0 = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)


@pytest.fixture
def client() -> APIClient:
    return APIClient()


@pytest.fixture
def items() -> list[int]:
    for i in range(7):
        KsItem.objects.create(name=f"n{i % 3}", created_at=T0)
    return list(KsItem.objects.order_by("name", "id").values_list("id", flat=True))


def links(response: Any) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]*)>; rel="(\w+)"', response.headers.get("Link", ""))}


def test_uncounted_pages_run_no_count(
    client: APIClient, items: list[int], django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(1):
        body = client.get("/pages/").json()
    assert body == {"next": "http://testserver/pages/?page=2", "previous": None, "results": body["results"]}
    assert [row["id"] for row in body["results"]] == items[:2]
    last = client.get("/pages/?page=4").json()
    assert [row["id"] for row in last["results"]] == items[6:]
    assert last["next"] is None
    assert last["previous"] == "http://testserver/pages/?page=3"
    assert client.get("/pages/?page=2").json()["previous"] == "http://testserver/pages/"


def test_counted_pages(client: APIClient, items: list[int]) -> None:
    response = client.get("/pages/counted/?page=2")
    body = response.json()
    assert body["count"] == 7
    assert [row["id"] for row in body["results"]] == items[2:4]
    assert set(links(response)) == {"next", "prev", "first", "last"}
    assert links(response)["last"].endswith("page=4")
    assert [row["id"] for row in client.get("/pages/counted/?page=last").json()["results"]] == items[6:]
    assert client.get("/pages/counted/?page=5").status_code == 400  # past max_page
    assert client.get("/pages/counted/?page=4&page_size=5").status_code == 404  # past the end


def test_page_past_max_page_points_to_keyset(client: APIClient, items: list[int]) -> None:
    response = client.get("/pages/?page=5")
    assert response.status_code == 400
    problem = response.json()
    assert problem["type"].endswith("page-too-deep")
    assert "cursor" in problem["detail"]
    assert "KeysetPagination" in problem["detail"]


@pytest.mark.parametrize("page", ["0", "-1", "abc", "last"])
def test_invalid_pages_are_404(client: APIClient, items: list[int], page: str) -> None:
    assert client.get(f"/pages/?page={page}").status_code == 404


def test_page_size_is_capped(client: APIClient, items: list[int]) -> None:
    assert len(client.get("/pages/?page_size=1000000000").json()["results"]) == 5


def test_unordered_queryset_gets_a_total_order(client: APIClient, items: list[int]) -> None:
    ids: list[int] = []
    url: str | None = "/pages/unordered/"
    while url:
        body = client.get(url).json()
        ids.extend(row["id"] for row in body["results"])
        url = body["next"]
    assert ids == sorted(items)


def test_defaults_come_from_settings(items: list[int], settings: Any) -> None:
    settings.NEXUS_API = {"PAGE_SIZE": 3, "MAX_PAGE": 2, "COUNT_POLICY": "exact"}
    paginator = PageNumberPagination()
    request = Request(APIRequestFactory().get("/", {"page": "2"}))
    rows = paginator.paginate_queryset(KsItem.objects.order_by("id"), request)
    assert [row.pk for row in rows] == sorted(items)[3:6]
    assert paginator.get_paginated_response([]).data["count"] == 7
    with pytest.raises(PageTooDeep):
        paginator.paginate_queryset(
            KsItem.objects.all(), Request(APIRequestFactory().get("/", {"page": "3"}))
        )
