"""nexus-tasks in the project: periodic expiry declared in code, a report with progress
behind TaskStatusView, the health report."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from bookings.models import Booking
from bookings.tasks import expire_unpaid_bookings
from listings.factories import BookingFactory
from listings.models import Listing
from nexus_tasks.testing import capture_tasks
from nexus_travel.celery import app

pytestmark = pytest.mark.django_db


def test_expiry_is_on_beats_schedule() -> None:
    app.loader.import_default_modules()
    schedule = app.conf.beat_schedule
    assert (
        schedule["bookings.tasks.expire_unpaid_bookings"]["task"] == "bookings.tasks.expire_unpaid_bookings"
    )
    assert "nexus_tasks.relay_outbox" in schedule


def test_unpaid_bookings_expire_after_a_day(listings: list[Listing], guest: User) -> None:
    old = BookingFactory(listing=listings[0], guest=guest)
    fresh = BookingFactory(listing=listings[1], guest=guest)
    paid = BookingFactory(listing=listings[2], guest=guest, status=Booking.Status.CONFIRMED)
    Booking.objects.filter(pk__in=[old.pk, paid.pk]).update(created_at=timezone.now() - dt.timedelta(days=2))
    assert expire_unpaid_bookings() == 1
    statuses = dict(Booking.objects.values_list("pk", "status"))
    assert statuses == {old.pk: "expired", fresh.pk: "pending", paid.pk: "confirmed"}


def test_report_runs_with_progress_and_only_its_owner_reads_it(
    api: APIClient, listings: list[Listing], guest: User, host: User
) -> None:
    for listing in listings[:5]:
        BookingFactory(listing=listing, guest=guest)
    api.force_authenticate(guest)
    with capture_tasks() as captured:
        started = api.post("/api/v2/reports/bookings/", {}, format="json")
    assert started.status_code == 202, started.content
    status_url = started.json()["status"]
    assert started["Location"] == status_url
    assert captured.names == ["bookings.tasks.bookings_report"]
    assert captured[0].id == started.json()["id"]
    captured.run()  # what the worker would do

    done = api.get(status_url)
    assert done.status_code == 200, done.content
    body = done.json()
    assert body["state"] == "SUCCESS"
    assert body["result"]["listings"] == 5

    api.force_authenticate(host)
    assert api.get(status_url).status_code == 404
    api.force_authenticate(guest)
    assert api.get("/api/v2/tasks/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_tasks_health_report(api: APIClient) -> None:
    response = api.get("/health/tasks/")
    assert response.status_code in (200, 503)
    assert "outbox" in response.json()
