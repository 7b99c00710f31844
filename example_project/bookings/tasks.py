"""Background work for bookings, run by the Celery worker."""

from __future__ import annotations

from celery import shared_task
from django.core.mail import send_mail
from django.utils import timezone

from bookings.models import Booking


@shared_task(acks_late=True)
def send_booking_confirmation(booking_id: int) -> str:
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
