"""VersionChange: one serializer written for version 3 serves versions 1 and 2 through
the chain of changes (tests/urls_versioning.py), in lists, pagination envelopes, nested
objects, requests and validation errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import QueryDict
from rest_framework.test import APIClient

from nexus_api.versioning import (
    AddEndpoint,
    AddField,
    ChangeContext,
    ChangeField,
    RemoveEndpoint,
    RemoveField,
    RenameField,
    VersionChange,
    all_changes,
)
from nexus_api.versioning._changes import endpoint_unavailable, pending_changes

from tests.urls_versioning import HostDisplayName, PriceObject, RatingAsString, RenameTitle, SplitReviews
from tests.versioning_models import VHost, VListing, VReview

pytestmark = [pytest.mark.urls("tests.urls_versioning"), pytest.mark.django_db]

VERSIONS = {"1": {"deprecated": "2025-01-01"}, "2": {}, "3": {}}


@pytest.fixture(autouse=True)
def versions(settings: Any) -> None:
    settings.NEXUS_API = {"VERSIONS": VERSIONS, "DEFAULT_VERSION": "3"}


@pytest.fixture
def client() -> APIClient:
    return APIClient()


@pytest.fixture
def listing() -> VListing:
    host = VHost.objects.create(display_name="Ada")
    listing = VListing.objects.create(
        name="Loft", price=Decimal("12.50"), currency="USD", instant_book=True, host=host
    )
    VReview.objects.create(listing=listing, rating=5, text="great")
    VReview.objects.create(listing=listing, rating=3, text="ok")
    return listing


def test_newest_version_is_the_serializer_as_written(client: APIClient, listing: VListing) -> None:
    body = client.get(f"/api/3/listings/{listing.pk}/").json()
    assert body == {
        "id": listing.pk,
        "name": "Loft",
        "price": {"amount": "12.50", "currency": "USD"},
        "instant_book": True,
        "host": {"id": listing.host_id, "display_name": "Ada"},
    }


def test_version_2_response(client: APIClient, listing: VListing) -> None:
    body = client.get(f"/api/2/listings/{listing.pk}/").json()
    assert body == {
        "id": listing.pk,
        "name": "Loft",
        "price": "12.50",
        "currency": "USD",
        "host": {"id": listing.host_id, "name": "Ada"},
    }
    assert list(body) == ["id", "name", "price", "currency", "host"]


def test_version_1_response_through_the_whole_chain(client: APIClient, listing: VListing) -> None:
    body = client.get(f"/api/1/listings/{listing.pk}/").json()
    assert body == {
        "id": listing.pk,
        "title": "Loft",
        "price": "12.50",
        "currency": "USD",
        "host": {"id": listing.host_id, "name": "Ada"},
        "reviews": [{"rating": 5, "text": "great"}, {"rating": 3, "text": "ok"}],
    }


def test_lists_inside_a_pagination_envelope(client: APIClient, listing: VListing) -> None:
    VListing.objects.create(name="Barn", price=Decimal("3"), host=listing.host)
    VListing.objects.create(name="Cave", price=Decimal("4"), host=listing.host)
    page = client.get("/api/1/listings/").json()
    assert set(page) == {"count", "next", "previous", "results"}
    assert [item["title"] for item in page["results"]] == ["Loft", "Barn"]
    assert all("name" not in item and "reviews" in item for item in page["results"])
    assert all(item["host"] == {"id": listing.host_id, "name": "Ada"} for item in page["results"])
    page2 = client.get(page["next"]).json()
    assert [item["title"] for item in page2["results"]] == ["Cave"]
    newest = client.get("/api/3/listings/").json()
    assert [item["name"] for item in newest["results"]] == ["Loft", "Barn"]


def test_version_1_create_is_upgraded_and_answered_in_version_1(client: APIClient) -> None:
    host = VHost.objects.create(display_name="Bob")
    response = client.post(
        "/api/1/listings/",
        {"title": "Hut", "price": "7.00", "currency": "GBP", "host_id": host.pk, "reviews": []},
        format="json",
    )
    assert response.status_code == 201, response.content
    created = VListing.objects.get(name="Hut")
    assert created.price == Decimal("7.00")
    assert created.currency == "GBP"
    assert created.instant_book is False  # AddField default for clients that cannot send it
    assert response.json()["title"] == "Hut"
    assert response.json()["reviews"] == []


def test_version_1_form_data_request(client: APIClient) -> None:
    host = VHost.objects.create(display_name="Bob")
    response = client.post("/api/1/listings/", {"title": "Den", "price": "2.00", "host_id": host.pk})
    assert response.status_code == 201, response.content
    assert VListing.objects.get(name="Den").currency == "EUR"


def test_version_1_validation_errors_use_the_old_names(client: APIClient) -> None:
    response = client.post("/api/1/listings/", {"title": "forbidden", "price": "1"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"title": ["This name is not allowed."]}
    response = client.post("/api/3/listings/", {"name": "forbidden", "price": {"amount": "1"}}, format="json")
    assert response.json()["errors"] == {"name": ["This name is not allowed."]}


def test_version_2_update(client: APIClient, listing: VListing) -> None:
    response = client.patch(
        f"/api/2/listings/{listing.pk}/", {"name": "Loft 2", "price": "20", "currency": "EUR"}, format="json"
    )
    assert response.status_code == 200, response.content
    listing.refresh_from_db()
    assert (listing.name, listing.price, listing.currency) == ("Loft 2", Decimal("20"), "EUR")
    assert response.json()["price"] == "20.00"


def test_split_endpoint_exists_only_from_version_2(client: APIClient, listing: VListing) -> None:
    response = client.get(f"/api/1/listings/{listing.pk}/reviews/")
    assert response.status_code == 404
    body = response.json()
    assert body["type"].endswith("endpoint-not-in-version")
    assert "added in API version 2" in body["detail"]
    assert response["API-Version"] == "1"
    assert client.get(f"/api/2/listings/{listing.pk}/reviews/").json() == [
        {"rating": 5, "text": "great"},
        {"rating": 3, "text": "ok"},
    ]


def test_removed_endpoint_exists_only_before_version_3(client: APIClient, listing: VListing) -> None:
    assert client.get(f"/api/2/listings/{listing.pk}/stats/").json() == {"reviews": 2}
    response = client.get(f"/api/3/listings/{listing.pk}/stats/")
    assert response.status_code == 404
    assert "removed in API version 3" in response.json()["detail"]


def test_registry_and_descriptions() -> None:
    changes = all_changes()
    assert RenameTitle in changes
    assert SplitReviews in changes
    assert RenameTitle.get_description() == "Listing `title` is now `name`."
    assert SplitReviews.get_description() == "Reviews moved out of the listing into /listings/{id}/reviews/."
    assert HostDisplayName.api_version().name == "3"

    class Undocumented(VersionChange):
        version = "2"

    assert Undocumented.get_description() == "Undocumented"


def test_version_must_be_a_string() -> None:
    with pytest.raises(ImproperlyConfigured, match="must be a version name"):

        class Bad(VersionChange):
            version = 2  # type: ignore[assignment]


def test_undeclared_version_fails_loudly() -> None:
    class Future(VersionChange):
        version = "9"

    from nexus_api.versioning import get_versions

    with pytest.raises(ImproperlyConfigured, match="'9' is not declared"):
        pending_changes([Future], get_versions()["1"])
    assert pending_changes([Future], None) == []


def test_pending_changes_order() -> None:
    from nexus_api.versioning import get_versions

    v1 = get_versions()["1"]
    order = [type(c) for c in pending_changes([PriceObject, SplitReviews, RenameTitle], v1)]
    assert order == [SplitReviews, RenameTitle, PriceObject]
    assert pending_changes([PriceObject], get_versions()["3"]) == []


def test_endpoint_unavailable() -> None:
    from nexus_api.versioning import get_versions

    versions = get_versions()
    assert endpoint_unavailable([SplitReviews], versions["2"]) is None
    assert endpoint_unavailable([RenameTitle], versions["1"]) is None


def test_operations_unit() -> None:
    context = ChangeContext(version="1")
    rename = RenameField("a", "b")
    assert rename.upgrade({"a": 1, "z": 2}, context) == {"b": 1, "z": 2}
    assert list(rename.downgrade({"x": 0, "b": 1, "z": 2}, context)) == ["x", "a", "z"]
    assert rename.downgrade({"z": 2}, context) == {"z": 2}
    assert rename.downgrade_errors(["not a dict"], context) == ["not a dict"]
    query = QueryDict("a=1&a=2&z=3")
    upgraded = rename.upgrade(query, context)
    assert upgraded.getlist("b") == ["1", "2"]
    assert "a" not in upgraded
    assert query.getlist("a") == ["1", "2"]  # the request's own data is never mutated

    add = AddField("n", default=list)
    assert add.upgrade({}, context) == {"n": []}
    assert add.upgrade({"n": [1]}, context) == {"n": [1]}
    assert AddField("n").upgrade({}, context) == {}
    assert add.downgrade({"n": 1, "m": 2}, context) == {"m": 2}
    assert add.downgrade({"m": 2}, context) == {"m": 2}

    remove = RemoveField("old", default="-", upgrade_value=lambda value, data: {**data, "new": value})
    assert remove.upgrade({"old": 1}, context) == {"new": 1}
    assert remove.upgrade({"x": 1}, context) == {"x": 1}
    assert RemoveField("old").upgrade({"old": 1, "k": 2}, context) == {"k": 2}
    assert remove.downgrade({}, context) == {"old": "-"}

    change = RatingAsString()
    assert change.upgrade_request({"rating": "4"}, context) == {"rating": 4}
    assert change.downgrade_response({"rating": 4}, context) == {"rating": "4"}
    assert ChangeField("x").upgrade({"x": 1}, context) == {"x": 1}
    assert ChangeField("x").downgrade({"x": 1}, context) == {"x": 1}
    assert ChangeField("x").describe() == "field `x` changed type"

    descriptions = [
        RenameField("a", "b").describe(),
        AddField("c").describe(),
        RemoveField("d").describe(),
        AddEndpoint().describe(),
        AddEndpoint("/x/").describe(),
        RemoveEndpoint().describe(),
        RemoveEndpoint("/y/").describe(),
    ]
    assert descriptions == [
        "field `a` renamed to `b`",
        "field `c` added",
        "field `d` removed",
        "endpoint added",
        "endpoint /x/ added",
        "endpoint removed",
        "endpoint /y/ removed",
    ]


def test_serializer_outside_a_request_is_the_newest(listing: VListing) -> None:
    from tests.urls_versioning import ListingSerializer

    data = ListingSerializer(listing).data
    assert data["name"] == "Loft"
    serializer = ListingSerializer(data={"name": "x", "price": {"amount": "1"}})
    assert serializer.is_valid(), serializer.errors


def test_plain_view_changes_translate_bodies(client: APIClient) -> None:
    assert client.get("/api/3/summary/").json() == {"name": "Loft", "total": 3}
    assert client.get("/api/1/summary/").json() == {"title": "Loft", "total": "3"}
    response = client.post("/api/1/summary/", {"title": "Hut", "total": "4"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"title": "Hut", "total": "4", "received": "dict"}


def test_plain_view_form_request_and_old_error_names(client: APIClient) -> None:
    response = client.post("/api/1/summary/", {"title": "Hut", "total": "4"})
    assert response.status_code == 200, response.content
    assert response.json()["title"] == "Hut"
    response = client.post("/api/1/summary/", {"title": "Too long", "total": "4"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"title": ["Ensure this field has no more than 4 characters."]}
    assert client.post("/api/3/summary/", {"title": "x"}, format="json").json()["errors"].keys() == {
        "name",
        "total",
    }


def test_view_changes_reach_each_item_of_a_pagination_envelope(client: APIClient, listing: VListing) -> None:
    VListing.objects.create(name="Barn", host=listing.host)
    VListing.objects.create(name="Cave", host=listing.host)
    page = client.get("/api/1/plain-listings/").json()
    assert [item["title"] for item in page["results"]] == ["Loft", "Barn"]
    assert page["next"].endswith("/api/1/plain-listings/?page=2")
    assert [item["name"] for item in client.get("/api/2/plain-listings/").json()["results"]] == [
        "Loft",
        "Barn",
    ]


def test_change_listed_on_view_and_serializer_is_applied_once(client: APIClient, listing: VListing) -> None:
    body = client.get(f"/api/1/plain-listings/{listing.pk}/").json()
    assert body["title"] == "Loft"
    assert "name" not in body
    assert "instant_book" not in body
    assert len(body["reviews"]) == 2


def test_view_body_helpers() -> None:
    from nexus_api.versioning._changes import downgrade_body, downgrade_error_body, upgrade_body

    changes = [RenameTitle()]
    context = ChangeContext(version="1")
    assert upgrade_body([{"title": 1}, 2], changes, context) == [{"name": 1}, 2]
    assert upgrade_body("text", changes, context) == "text"
    assert downgrade_body("text", changes, context, paginated=True) == "text"
    assert downgrade_body({"results": "x", "name": 1}, changes, context, paginated=True) == {
        "results": "x",
        "title": 1,
    }
    assert downgrade_error_body({"detail": "x"}, changes, context) == {"detail": "x"}
    assert downgrade_error_body("x", changes, context) == "x"


@pytest.mark.urls("tests.urls_openapi")
def test_keyset_pagination_envelope_through_the_chain(client: APIClient, listing: VListing) -> None:
    for name in ("Barn", "Cave", "Dune", "Echo", "Fjord", "Glen", "Hill", "Inlet", "Jetty", "Knoll", "Lake"):
        VListing.objects.create(name=name, host=listing.host)
    response = client.get("/api/1/feed/")
    assert response.status_code == 200, response.content
    page = response.json()
    assert set(page) >= {"results", "next", "previous"}
    assert [item["title"] for item in page["results"]][:3] == ["Barn", "Cave", "Dune"]
    assert all("name" not in item and "reviews" in item for item in page["results"])
    assert all(item["host"]["name"] == "Ada" for item in page["results"])
    assert 'rel="next"' in response["Link"]
    assert 'rel="deprecation"' not in response["Link"]  # version 1 has no link here
    assert page["next"].startswith("http://testserver/api/1/feed/?cursor=")
    second = client.get(page["next"])
    assert second.status_code == 200, second.content
    titles = [item["title"] for item in second.json()["results"]]
    assert titles == ["Lake", "Loft"]
    tampered = client.get("/api/1/feed/?cursor=garbage")
    assert tampered.status_code == 400
    assert tampered.json()["type"].endswith("invalid-cursor")
    assert tampered["API-Version"] == "1"
