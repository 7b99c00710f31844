"""Background work for bookings, declared with nexus-tasks and run by the Celery worker."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from celery.schedules import crontab
from django.core.mail import send_mail
from django.db.models import Count, Sum
from django.utils import timezone

from bookings.models import Booking
from nexus_tasks import periodic_task, task

#: A pending booking not confirmed within this long is released.
UNPAID_TTL = dt.timedelta(hours=24)


@task(unique=True, idempotent=True)
def send_booking_confirmation(booking_id: int) -> str:
    """Mail the guest once per booking.

    ``unique``: a second enqueue for the same booking while one is queued returns the first
    id and sends nothing. ``idempotent``: a message redelivered after the body ran (a worker
    killed before its ack) is acknowledged without mailing twice. The mail itself goes
    through CeleryEmailBackend, which retries SMTP failures from the worker.
    """
    booking = Booking.objects.select_related("listing", "guest").get(pk=booking_id)
    send_mail(
        subject=f"Your stay at {booking.listing.title}",
        message=(
            f"Hello {booking.guest.username},\n\nyour booking {booking.pk} from {booking.check_in} "
            f"to {booking.check_out} ({booking.nights} nights) is received. Total: {booking.total_price}."
        ),
        from_email=None,
        recipient_list=[booking.guest.email or f"{booking.guest.username}@example.invalid"],
    )
    Booking.objects.filter(pk=booking.pk).update(confirmation_sent_at=timezone.now())
    return f"confirmation sent for booking {booking.pk}"


@periodic_task(crontab(minute="*/15"))
def expire_unpaid_bookings() -> int:
    """Release stays held by bookings nobody paid for (beat runs it every 15 minutes; a
    leader lock keeps a second beat from running it twice)."""
    cutoff = timezone.now() - UNPAID_TTL
    return Booking.objects.filter(status=Booking.Status.PENDING, created_at__lt=cutoff).update(
        status=Booking.Status.EXPIRED
    )


@task(bind=True)
def bookings_report(self: Any, city: str | None = None) -> dict[str, Any]:
    """Revenue and nights per listing, reporting progress as it goes (a slow report in a
    real project; here it pauses briefly per chunk so the progress is visible)."""
    qs = Booking.objects.exclude(status=Booking.Status.CANCELLED)
    if city:
        qs = qs.filter(listing__city=city)
    listing_ids = sorted(set(qs.values_list("listing_id", flat=True)))
    total = len(listing_ids)
    rows = []
    chunk = 20
    for start in range(0, total, chunk):
        part = listing_ids[start : start + chunk]
        for row in (
            qs.filter(listing_id__in=part)
            .values("listing_id")
            .annotate(bookings=Count("id"), revenue=Sum("total_price"))
            .order_by("listing_id")
        ):
            rows.append({**row, "revenue": str(row["revenue"])})
        self.report_progress(
            min(start + chunk, total), total, f"{min(start + chunk, total)} of {total} listings"
        )
        time.sleep(0.05)
    return {"city": city, "listings": len(rows), "rows": rows}
