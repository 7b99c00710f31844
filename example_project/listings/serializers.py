from __future__ import annotations

from typing import Any

from rest_framework import serializers

from listings.models import Amenity, Listing
from listings.versions import AddAmenities, MoveReviews, RenamePrice
from nexus_api.versioning import VersionChangesMixin
from reviews.ratings import listing_rating


class ListingSerializer(VersionChangesMixin, serializers.ModelSerializer):
    """Written for API version 2; version 1 is served through ``version_changes``."""

    version_changes = [RenamePrice, AddAmenities, MoveReviews]

    host = serializers.CharField(source="host.username", read_only=True)
    amenities = serializers.SlugRelatedField(
        many=True, slug_field="name", queryset=Amenity.objects.all(), required=False
    )
    rating = serializers.SerializerMethodField()

    class Meta:
        model = Listing
        fields = [
            "id",
            "title",
            "description",
            "city",
            "price_per_night",
            "max_guests",
            "amenities",
            "rating",
            "host",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["is_active", "created_at", "updated_at"]

    def get_rating(self, listing: Listing) -> dict[str, Any]:
        return listing_rating(listing.pk)
