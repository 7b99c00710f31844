"""KeysetPagination through real DRF views and HTTP requests."""

from __future__ import annotations

import datetime
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import override_settings
from rest_framework.test import APIClient, APIRequestFactory

from nexus_api.pagination import InvalidCursor, KeysetPagination

from tests.keyset_helpers import expected_ids
from tests.keyset_models import KsHost, KsItem

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.keyset_urls")]

T0 = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)


@pytest.fixture
def client() -> APIClient:
    return APIClient()


@pytest.fixture
def items() -> list[KsItem]:
    hosts = [KsHost.objects.create(name=n) for n in ("x", None, "y")]
    for i in range(10):
        KsItem.objects.create(
            name="ab"[i % 2],
            rank=None if i % 3 == 0 else i % 4,
            created_at=T0 + datetime.timedelta(minutes=i // 3),
            host=None if i == 4 else hosts[i % 3],
        )
    return list(KsItem.objects.select_related("host"))


def links(response: Any) -> dict[str, str]:
    header = response.headers.get("Link", "")
    return {rel: url for url, rel in re.findall(r'<([^>]*)>; rel="(\w+)"', header)}


def walk(client: APIClient, url: str) -> tuple[list[int], list[dict[str, Any]]]:
    ids: list[int] = []
    bodies = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        bodies.append(body)
        ids.extend(row["id"] for row in body["results"])
        assert links(response).get("next") == body["next"]
        url = body["next"]
    return ids, bodies


def test_view_ordering_forward_and_back(client: APIClient, items: list[KsItem]) -> None:
    ids, bodies = walk(client, "/items/")
    assert ids == expected_ids(items, ["-created_at", "id"])
    assert [len(b["results"]) for b in bodies] == [3, 3, 3, 1]
    assert bodies[0]["previous"] is None
    assert set(bodies[0]) == {"results", "next", "previous"}
    back: list[int] = []
    url = bodies[-1]["previous"]
    while url:
        body = client.get(url).json()
        back[:0] = [row["id"] for row in body["results"]]
        url = body["previous"]
    assert back == ids[:9]


def test_link_header_has_next_prev_first(client: APIClient, items: list[KsItem]) -> None:
    first = client.get("/items/?name=a&page_size=2")
    second = client.get(first.json()["next"])
    rels = links(second)
    assert set(rels) == {"next", "prev", "first"}
    assert rels["first"] == "http://testserver/items/?name=a&page_size=2"
    assert rels["prev"] == second.json()["previous"]
    assert "cursor=" in rels["next"]
    assert set(links(first)) == {"next", "first"}


@pytest.mark.parametrize("ordering", ["rank", "-rank,name", "host__name,-created_at", "-day", "score,-name"])
def test_ordering_query_parameter(client: APIClient, items: list[KsItem], ordering: str) -> None:
    ids, _ = walk(client, f"/items/?ordering={ordering}&page_size=4")
    assert ids == expected_ids(items, [*ordering.split(","), "id"])


def test_ordering_outside_ordering_fields_is_a_400(client: APIClient, items: list[KsItem]) -> None:
    response = client.get("/items/?ordering=uid")
    assert response.status_code == 400
    assert "uid" in response.content.decode()
    fixed = client.get("/items/fixed/?ordering=name")
    assert fixed.status_code == 400
    assert client.get("/items/all-fields/?ordering=-uid").status_code == 200


def test_meta_ordering_is_the_fallback(client: APIClient) -> None:
    from tests.keyset_models import KsOrdered

    for i in range(5):
        KsOrdered.objects.create(title=f"t{i}", position=i % 3)
    ids, _ = walk(client, "/ordered/")
    expected = [o.pk for o in sorted(KsOrdered.objects.all(), key=lambda o: (-o.position, o.pk))]
    assert ids == expected


def test_page_size_is_capped(client: APIClient, items: list[KsItem]) -> None:
    assert len(client.get("/items/?page_size=1000000000").json()["results"]) == 10
    assert len(client.get("/items/?page_size=2").json()["results"]) == 2
    for junk in ("0", "-3", "abc", ""):
        assert len(client.get(f"/items/?page_size={junk}").json()["results"]) == 3


def test_global_cap_applies_without_class_cap(items: list[KsItem]) -> None:
    from rest_framework.request import Request

    paginator = KeysetPagination()
    request = Request(APIRequestFactory().get("/items/", {"page_size": "999"}))
    with override_settings(NEXUS_API={"MAX_PAGE_SIZE": 4, "PAGE_SIZE": 2}):
        assert paginator.get_page_size(request) == 4
        assert paginator.get_page_size(Request(APIRequestFactory().get("/items/"))) == 2
        assert len(paginator.paginate_queryset(KsItem.objects.all(), request)) == 4


def test_count_is_added_only_when_asked(client: APIClient, items: list[KsItem]) -> None:
    body = client.get("/items/counted/?name=a").json()
    assert body["count"] == 5
    assert "count" not in client.get("/items/?name=a").json()


def test_filter_parameters_bind_the_cursor(client: APIClient, items: list[KsItem]) -> None:
    next_url = client.get("/items/?name=a").json()["next"]
    cursor = parse_qs(urlsplit(next_url).query)["cursor"][0]
    assert client.get("/items/", {"name": "a", "cursor": cursor}).status_code == 200
    assert (
        client.get("/items/", {"name": "a", "cursor": cursor, "page_size": 5, "format": "json"}).status_code
        == 200
    )
    for params in ({"name": "b"}, {}, {"name": "a", "ordering": "rank"}):
        response = client.get("/items/", {**params, "cursor": cursor})
        assert response.status_code == 400, params
    assert client.get("/items/counted/", {"name": "a", "cursor": cursor}).status_code == 400


@pytest.mark.parametrize("mangle", ["flip", "truncate", "garbage", "append", "foreign", "huge"])
def test_bad_cursor_is_a_problem_400(client: APIClient, items: list[KsItem], mangle: str) -> None:
    cursor = parse_qs(urlsplit(client.get("/items/").json()["next"]).query)["cursor"][0]
    bad = {
        "flip": cursor[:10] + ("A" if cursor[10] != "A" else "B") + cursor[11:],
        "truncate": cursor[:-4],
        "garbage": "%%%not-a-cursor",
        "append": cursor + "AA",
        "foreign": parse_qs(urlsplit(client.get("/ordered/").json()["next"] or "?cursor=x").query)["cursor"][
            0
        ],
        "huge": "A" * 10_000,
    }[mangle]
    response = client.get("/items/", {"cursor": bad})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"].endswith("invalid-cursor")
    assert problem["status"] == 400
    assert "first page" in problem["detail"]


def test_cursor_replayed_with_other_ordering(client: APIClient, items: list[KsItem]) -> None:
    next_url = client.get("/items/?ordering=rank").json()["next"]
    replay = next_url.replace("ordering=rank", "ordering=-rank")
    response = client.get(replay)
    assert response.status_code == 400
    assert response.json()["type"].endswith("invalid-cursor")


def test_invalid_cursor_exception_shape() -> None:
    exc = InvalidCursor()
    assert exc.status_code == 400
    assert exc.default_code == "invalid_cursor"
    assert exc.get_codes() == "invalid_cursor"


def test_inserts_and_deletes_between_requests(client: APIClient, items: list[KsItem]) -> None:
    first = client.get("/items/?ordering=name,-rank").json()
    seen = [row["id"] for row in first["results"]]
    survivors = set(KsItem.objects.values_list("id", flat=True)) - set(seen)
    # Delete the row the cursor points at, and add rows before and after it.
    KsItem.objects.filter(pk=seen[-1]).delete()
    KsItem.objects.create(name="a", rank=None, created_at=T0)
    KsItem.objects.create(name="0", rank=1, created_at=T0)
    url = first["next"]
    while url:
        body = client.get(url).json()
        seen.extend(row["id"] for row in body["results"])
        url = body["next"]
    assert len(seen) == len(set(seen))
    assert survivors <= set(seen)


def test_non_queryset_is_refused(items: list[KsItem]) -> None:
    from rest_framework.request import Request

    with pytest.raises(TypeError, match="QuerySets"):
        KeysetPagination().paginate_queryset([1, 2], Request(APIRequestFactory().get("/")))
