"""CacheResponseMixin, cache_view, cached_resolver: the safety rules."""

from __future__ import annotations

import base64
import json

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests import schema
from tests.helpers import no_queries, queries
from tests.models import Listing, Review

pytestmark = pytest.mark.django_db(transaction=True)


def basic(user: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{user}:pw".encode()).decode()}


@pytest.fixture
def users() -> tuple[User, User]:
    return User.objects.create_user("alice", password="pw"), User.objects.create_user("bob", password="pw")


@pytest.fixture
def listings() -> list[Listing]:
    return [Listing.objects.create(city="Lagos", price=i) for i in range(60)]


def test_list_is_cached_and_invalidated(client: Client, listings: list[Listing]) -> None:
    r1 = client.get("/api/listings/")
    assert r1.status_code == 200
    assert r1["X-Nexus-Cache"] == "miss"
    with no_queries():
        r2 = client.get("/api/listings/")
    assert r2["X-Nexus-Cache"] == "hit"
    assert r2.content == r1.content
    listings[0].price = 1000
    listings[0].save()
    r3 = client.get("/api/listings/")
    assert r3["X-Nexus-Cache"] == "miss"
    assert r3.json()["results"][0]["price"] == 1000


def test_two_users_never_see_each_others_responses(client: Client, users: tuple[User, User]) -> None:
    Listing.objects.create(city="Lagos")
    a = client.get("/api/listings/", **basic("alice")).json()
    b = client.get("/api/listings/", **basic("bob")).json()
    anon = client.get("/api/listings/").json()
    assert (a["user"], b["user"], anon["user"]) == ("alice", "bob", "AnonymousUser")
    assert client.get("/api/listings/", **basic("alice")).json()["user"] == "alice"
    assert client.get("/api/listings/", **basic("bob")).json()["user"] == "bob"
    client.force_login(users[1])
    assert client.get("/api/listings/").json()["user"] == "bob"


def test_authentication_and_permissions_still_run_on_hits(client: Client, users: tuple[User, User]) -> None:
    Listing.objects.create(city="Lagos")
    assert client.get("/api/listings/", **basic("alice")).status_code == 200
    bad = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"alice:wrong").decode()}
    assert client.get("/api/listings/", **bad).status_code in (401, 403)


def test_query_string_is_part_of_the_key_and_canonical(client: Client, listings: list[Listing]) -> None:
    p1 = client.get("/api/listings/?page=1").json()
    p2 = client.get("/api/listings/?page=2").json()
    assert p1["results"][0]["price"] == 0
    assert p2["results"][0]["price"] == 50  # page 2 is not page 1
    client.get("/api/listings/?page=2&x=1")
    with no_queries():
        r = client.get("/api/listings/?x=1&page=2")
    assert r["X-Nexus-Cache"] == "hit"


def test_accept_changes_the_key(client: Client, listings: list[Listing]) -> None:
    j = client.get("/api/listings/", HTTP_ACCEPT="application/json")
    h = client.get("/api/listings/", HTTP_ACCEPT="text/html")
    assert j["Content-Type"].startswith("application/json")
    assert h["Content-Type"].startswith("text/html")
    assert client.get("/api/listings/", HTTP_ACCEPT="text/html")["Content-Type"].startswith("text/html")


def test_etag_304_only_while_data_unchanged(client: Client, listings: list[Listing]) -> None:
    r = client.get("/api/listings/")
    etag = r["ETag"]
    assert r["Last-Modified"]
    assert "no-cache" in r["Cache-Control"]
    assert "private" in r["Cache-Control"]
    with no_queries():
        nm = client.get("/api/listings/", HTTP_IF_NONE_MATCH=etag)
    assert nm.status_code == 304
    assert nm.content == b""
    listings[3].price = 77
    listings[3].save()
    fresh = client.get("/api/listings/", HTTP_IF_NONE_MATCH=etag)
    assert fresh.status_code == 200
    assert fresh["ETag"] != etag
    assert client.get("/api/listings/", HTTP_IF_MODIFIED_SINCE=fresh["Last-Modified"]).status_code == 304


def test_public_views_share_entries_and_depend_on_declared_models(
    client: Client, users: tuple[User, User], listings: list[Listing]
) -> None:
    client.get("/api/public-listings/", **basic("alice"))
    with no_queries():
        assert client.get("/api/public-listings/")["X-Nexus-Cache"] == "hit"
    assert "public" in client.get("/api/public-listings/")["Cache-Control"]
    Review.objects.create(listing=listings[0], rating=3)  # cache_depends_on = [Review]
    assert client.get("/api/public-listings/")["X-Nexus-Cache"] == "miss"


def test_retrieve_is_cached_per_row(client: Client, listings: list[Listing]) -> None:
    one, two = listings[0], listings[1]
    client.get(f"/api/listings/{one.pk}/")
    client.get(f"/api/listings/{two.pk}/")
    two.price = 5
    two.save()
    with no_queries():
        assert client.get(f"/api/listings/{one.pk}/")["X-Nexus-Cache"] == "hit"
    assert client.get(f"/api/listings/{two.pk}/").json()["price"] == 5
    assert client.get("/api/listings/999999/").status_code == 404


@pytest.mark.parametrize("query", ["cookie=1", "private=1", "status=201", "status=500"])
def test_never_cached(client: Client, query: str) -> None:
    for _ in range(2):
        r = client.get(f"/api/cookies/?{query}")
        assert "X-Nexus-Cache" not in r


def test_vary_is_honoured(client: Client) -> None:
    client.get("/api/cookies/?vary=1", HTTP_X_FLAVOUR="a")
    assert client.get("/api/cookies/?vary=1", HTTP_X_FLAVOUR="a")["X-Nexus-Cache"] == "hit"
    assert "X-Nexus-Cache" not in client.get("/api/cookies/?vary=1", HTTP_X_FLAVOUR="b")


def test_head_shares_get_and_writes_are_not_cached(client: Client, listings: list[Listing]) -> None:
    client.get("/api/listings/")
    assert client.head("/api/listings/")["X-Nexus-Cache"] == "hit"
    r = client.post("/api/listings/", {"city": "Kano", "price": 1})
    assert r.status_code in (201, 403)
    assert "X-Nexus-Cache" not in r


def test_cache_view_per_user_and_invalidation(client: Client, users: tuple[User, User]) -> None:
    Listing.objects.create(city="Lagos")
    assert client.get("/count/").json() == {"n": 1, "user": "AnonymousUser"}
    with no_queries():
        assert client.get("/count/")["X-Nexus-Cache"] == "hit"
    client.force_login(users[0])
    assert client.get("/count/").json()["user"] == "alice"
    client.force_login(users[1])
    assert client.get("/count/").json()["user"] == "bob"
    Listing.objects.create(city="Kano")
    assert client.get("/count/").json() == {"n": 2, "user": "bob"}
    assert client.post("/post/").status_code == 200


def test_async_cache_view(client: Client) -> None:
    Listing.objects.create(city="Lagos")
    assert client.get("/acount/").json() == {"n": 1}
    assert client.get("/acount/")["X-Nexus-Cache"] == "hit"
    Listing.objects.create(city="Kano")
    assert client.get("/acount/").json() == {"n": 2}


def gql(client: Client, query: str) -> dict[str, object]:
    r = client.post("/graphql/", json.dumps({"query": query}), content_type="application/json")
    assert r.status_code == 200, r.content
    data: dict[str, object] = r.json()["data"]
    return data


def test_cached_resolver(client: Client, users: tuple[User, User]) -> None:
    schema.CALLS.clear()
    a = Listing.objects.create(city="Lagos", price=5)
    q = '{ listings(city: "Lagos") { id priceLabel } whoami }'
    first = gql(client, q)
    assert first["listings"] == [{"id": str(a.pk), "priceLabel": "5 NGN"}]
    with queries() as ctx:
        assert gql(client, q) == first
    assert not [x for x in ctx.captured_queries if "tests_listing" in x["sql"]]
    assert [f"listings:{'Lagos'}", f"label:{a.pk}", "whoami"] == schema.CALLS
    client.force_login(users[0])
    assert gql(client, "{ whoami }") == {"whoami": "alice"}
    a.price = 6
    a.save()
    assert gql(client, q)["listings"] == [{"id": str(a.pk), "priceLabel": "6 NGN"}]


def test_accept_spellings_that_negotiate_the_same_type_share_an_entry(client: Client) -> None:
    Listing.objects.create(city="Lagos")
    client.get("/api/listings/", HTTP_ACCEPT="application/json")
    with no_queries():
        r = client.get("/api/listings/", HTTP_ACCEPT="application/json, */*;q=0.1")
    assert r["X-Nexus-Cache"] == "hit"
    assert r["Vary"]


def test_mixin_listed_after_the_drf_view_is_an_error_at_class_definition() -> None:
    from django.core.exceptions import ImproperlyConfigured
    from rest_framework import generics

    from nexus_cache import CacheResponseMixin

    with pytest.raises(ImproperlyConfigured, match="before the DRF view"):

        class Wrong(generics.ListAPIView, CacheResponseMixin):  # type: ignore[misc]
            pass

    class Right(CacheResponseMixin, generics.ListAPIView):  # type: ignore[type-arg]
        pass

    class Subclass(Right):
        pass


@pytest.mark.parametrize("timeout", [0, -5, 1.5])
def test_view_and_resolver_decorators_refuse_a_non_positive_timeout(timeout: object) -> None:
    from nexus_cache import cache_view, cached_resolver

    for decorator in (cache_view, cached_resolver):
        with pytest.raises(ValueError, match="positive number of seconds"):
            decorator(timeout=timeout)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive number of seconds"):
        cache_view(0)
