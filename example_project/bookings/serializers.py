from __future__ import annotations

from typing import Any

from rest_framework import serializers

from bookings.models import Booking
from listings.models import Listing


class BookingSerializer(serializers.ModelSerializer):
    listing = serializers.PrimaryKeyRelatedField(queryset=Listing.objects.filter(is_active=True))

    class Meta:
        model = Booking
        fields = [
            "id",
            "listing",
            "check_in",
            "check_out",
            "guests",
            "total_price",
            "status",
            "confirmation_sent_at",
            "created_at",
        ]
        read_only_fields = ["total_price", "status", "confirmation_sent_at", "created_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["check_out"] <= attrs["check_in"]:
            raise serializers.ValidationError({"check_out": "Check-out must be after check-in."})
        listing: Listing = attrs["listing"]
        if attrs.get("guests", 1) > listing.max_guests:
            raise serializers.ValidationError(
                {"guests": f"This listing sleeps at most {listing.max_guests}."}
            )
        attrs["total_price"] = listing.price_per_night * (attrs["check_out"] - attrs["check_in"]).days
        return attrs
