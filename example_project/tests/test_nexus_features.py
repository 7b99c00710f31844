"""The three packages at work in the project: cached + invalidated listings, keyset pages
with signed cursors, versions 1 and 2, problem details, GraphQL and OpenAPI."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from listings.models import Listing
from reviews.models import Review

pytestmark = pytest.mark.django_db(transaction=True)


def test_listing_list_is_cached_and_a_write_invalidates_it(api: APIClient, listings: list[Listing]) -> None:
    url = "/api/v2/listings/?city=Lagos&page_size=5"
    first = api.get(url)
    assert first.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        again = api.get(url)
    assert again.content == first.content
    assert len(queries) == 0, [q["sql"] for q in queries]

    newest = Listing.objects.filter(city="Lagos").order_by("-created_at", "-id").first()
    assert newest is not None
    Listing.objects.filter(pk=newest.pk).update(title="Freshly renamed")  # update(): no signals
    after = api.get(url)
    assert after.json()["results"][0]["title"] == "Freshly renamed"


def test_etag_gives_304_until_the_data_changes(api: APIClient, listings: list[Listing]) -> None:
    url = f"/api/v2/listings/{listings[0].pk}/"
    response = api.get(url)
    etag = response["ETag"]
    assert api.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    Review.objects.create(listing=listings[0], author=listings[1].host, rating=5, body="lovely")
    changed = api.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed.json()["rating"] == {"average": 5.0, "count": 1}


def test_keyset_pages_on_any_ordering_and_a_tampered_cursor_is_a_problem(
    api: APIClient, listings: list[Listing]
) -> None:
    url: str | None = "/api/v2/listings/?ordering=price_per_night,-created_at&page_size=4"
    seen: list[int] = []
    while url:
        body = api.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    expected = list(
        Listing.objects.order_by("price_per_night", "-created_at", "pk").values_list("pk", flat=True)
    )
    assert seen == expected

    next_url = api.get("/api/v2/listings/?page_size=4").json()["next"]
    tampered = next_url[:-3] + ("AAA" if not next_url.endswith("AAA") else "BBB")
    bad = api.get(tampered)
    assert bad.status_code == 400
    assert bad["Content-Type"] == "application/problem+json"
    assert bad.json()["type"].endswith("invalid-cursor")


def test_page_size_is_capped(api: APIClient, listings: list[Listing]) -> None:
    body = api.get("/api/v2/listings/?page_size=1000000000").json()
    assert len(body["results"]) == 30  # every row, and at most the cap (100)


def test_version_1_is_deprecated_and_translated(api: APIClient, listings: list[Listing], host: User) -> None:
    listing = listings[0]
    Review.objects.create(listing=listing, author=host, rating=4, body="fine")
    v1 = api.get(f"/api/v1/listings/{listing.pk}/")
    assert v1.status_code == 200
    assert v1["API-Version"] == "1"
    assert v1["Deprecation"].startswith("@")
    assert "Sunset" in v1
    assert 'rel="deprecation"' in v1["Link"]
    body = v1.json()
    assert "price" in body
    assert "price_per_night" not in body
    assert "amenities" not in body
    assert body["reviews"] == [{"author": "host", "rating": 4, "body": "fine"}]

    v2 = api.get(f"/api/v2/listings/{listing.pk}/")
    assert v2["API-Version"] == "2"
    assert "Deprecation" not in v2
    assert "price_per_night" in v2.json()
    assert "reviews" not in v2.json()


def test_version_1_requests_are_upgraded(api: APIClient, host: User) -> None:
    api.force_authenticate(host)
    created = api.post(
        "/api/v1/listings/", {"title": "Old client", "city": "Oslo", "price": "99.00"}, format="json"
    )
    assert created.status_code == 201, created.content
    assert created.json()["price"] == "99.00"
    assert Listing.objects.get(title="Old client").price_per_night == 99


def test_reviews_endpoint_exists_from_version_2(api: APIClient, listings: list[Listing]) -> None:
    assert api.get(f"/api/v2/listings/{listings[0].pk}/reviews/").status_code == 200
    gone = api.get(f"/api/v1/listings/{listings[0].pk}/reviews/")
    assert gone.status_code == 404
    assert gone["Content-Type"] == "application/problem+json"


def test_unknown_version_lists_the_supported_ones(api: APIClient) -> None:
    response = api.get("/api/v9/listings/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert "2" in str(response.json())


def test_graphql_listings_connection_and_cached_listing(api: APIClient, listings: list[Listing]) -> None:
    query = """
    query($after: String) {
      listings(first: 10, after: $after, city: "Lagos") {
        edges { node { title city rating } }
        pageInfo { hasNextPage endCursor }
      }
    }"""
    titles: list[str] = []
    after = None
    while True:
        body = api.post("/graphql/", {"query": query, "variables": {"after": after}}, format="json").json()
        assert "errors" not in body, body
        page = body["data"]["listings"]
        titles += [edge["node"]["title"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(titles) == 15

    one = f"{{ listing(id: {listings[0].pk}) {{ title host }} }}"
    assert api.post("/graphql/", {"query": one}, format="json").json()["data"]["listing"]["host"] == "host"


def test_graphql_rejects_a_bad_cursor_with_a_code(api: APIClient, listings: list[Listing]) -> None:
    body = api.post(
        "/graphql/",
        {"query": '{ listings(first: 2, after: "garbage") { edges { node { title } } } }'},
        format="json",
    ).json()
    assert body["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"


def test_openapi_schema_per_version(api: APIClient) -> None:
    v2 = api.get("/api/schema/?format=json")
    assert v2.status_code == 200
    paths = v2.json()["paths"]
    assert any("reviews" in path for path in paths)
    v1 = api.get("/api/schema/?format=json&version=1").json()
    assert not any("reviews" in path for path in v1["paths"])
