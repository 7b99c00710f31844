from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.core import mail
from rest_framework.test import APIClient

from bookings.models import Booking
from listings.models import Listing
from nexus_tasks.testing import capture_tasks

pytestmark = pytest.mark.django_db


def walk(api: APIClient, url: str) -> list[int]:
    ids: list[int] = []
    while url:
        response = api.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        ids += [row["id"] for row in body["results"]]
        url = body["next"]
    return ids


def test_index_and_health(api: APIClient) -> None:
    assert api.get("/").json()["name"] == "Nexus Travel"
    health = api.get("/health/")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"


def test_listing_pages_cover_every_row_once_newest_first(api: APIClient, listings: list[Listing]) -> None:
    ids = walk(api, "/api/v2/listings/?page_size=7")
    expected = list(Listing.objects.order_by("-created_at", "-id").values_list("id", flat=True))
    assert ids == expected


def test_listing_filter_by_city(api: APIClient, listings: list[Listing]) -> None:
    ids = walk(api, "/api/v2/listings/?city=Lagos")
    assert len(ids) == 15
    assert set(Listing.objects.filter(pk__in=ids).values_list("city", flat=True)) == {"Lagos"}


def test_only_the_host_changes_a_listing(
    api: APIClient, listings: list[Listing], guest: User, host: User
) -> None:
    url = f"/api/v2/listings/{listings[0].pk}/"
    api.force_authenticate(guest)
    assert api.patch(url, {"title": "mine now"}).status_code == 403
    api.force_authenticate(host)
    assert api.patch(url, {"title": "renamed"}).status_code == 200
    assert api.get(url).json()["title"] == "renamed"


def test_anonymous_users_cannot_create(api: APIClient) -> None:
    response = api.post("/api/v2/listings/", {"title": "x", "city": "Oslo", "price_per_night": "10"})
    assert response.status_code in (401, 403)


def test_booking_sends_confirmation_after_commit(
    api: APIClient, listings: list[Listing], guest: User
) -> None:
    api.force_authenticate(guest)
    listing = listings[0]
    with capture_tasks(run_on_commit=True) as captured:
        response = api.post(
            "/api/v2/bookings/",
            {"listing": listing.pk, "check_in": "2027-03-01", "check_out": "2027-03-04"},
            format="json",
        )
    assert response.status_code == 201, response.content
    assert captured.names == ["bookings.tasks.send_booking_confirmation"]
    assert captured[0].args == [response.json()["id"]]
    assert mail.outbox == [], "recorded, not yet run"
    captured.run()
    booking = Booking.objects.get(pk=response.json()["id"])
    assert booking.total_price == listing.price_per_night * 3
    assert booking.confirmation_sent_at is not None
    assert len(mail.outbox) == 1
    assert "3 nights" in mail.outbox[0].body


def test_invalid_booking_sends_nothing(api: APIClient, listings: list[Listing], guest: User) -> None:
    api.force_authenticate(guest)
    with capture_tasks() as captured:
        response = api.post(
            "/api/v2/bookings/",
            {"listing": listings[0].pk, "check_in": "2027-03-04", "check_out": "2027-03-01"},
            format="json",
        )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"]["check_out"] == ["Check-out must be after check-in."]
    assert len(captured) == 0
    assert not Booking.objects.exists()


def test_guests_see_only_their_bookings(
    api: APIClient, listings: list[Listing], guest: User, host: User
) -> None:
    Booking.objects.create(
        listing=listings[0],
        guest=host,
        check_in=dt.date(2027, 1, 1),
        check_out=dt.date(2027, 1, 2),
        total_price=1,
    )
    api.force_authenticate(guest)
    assert api.get("/api/v2/bookings/").json()["results"] == []
