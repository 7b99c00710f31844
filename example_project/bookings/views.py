"""Bookings: a guest books a stay; the confirmation is sent by the worker after commit."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from rest_framework import mixins, permissions, viewsets

from bookings.models import Booking
from bookings.serializers import BookingSerializer
from bookings.tasks import send_booking_confirmation


class BookingViewSet(
    mixins.CreateModelMixin, mixins.RetrieveModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet
):
    serializer_class = BookingSerializer
    permission_classes = [permissions.IsAuthenticated]

    def get_queryset(self) -> QuerySet[Booking]:
        return Booking.objects.filter(guest=self.request.user).select_related("listing")

    def perform_create(self, serializer: Any) -> None:
        with transaction.atomic():
            booking = serializer.save(guest=self.request.user)
            # Through the transactional outbox: the message is a row in this transaction,
            # published right after commit; if the broker is down then, the relay publishes
            # it later. A rollback sends nothing.
            send_booking_confirmation.enqueue(booking.pk, durable=True)
