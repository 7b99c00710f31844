from __future__ import annotations

from django.contrib import admin

from bookings.models import Booking


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin):
    list_display = ("id", "listing", "guest", "check_in", "check_out", "status", "created_at")
    list_filter = ("status",)
