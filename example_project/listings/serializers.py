from __future__ import annotations

from rest_framework import serializers

from listings.models import Amenity, Listing


class ListingSerializer(serializers.ModelSerializer):
    host = serializers.CharField(source="host.username", read_only=True)
    amenities = serializers.SlugRelatedField(
        many=True, slug_field="name", queryset=Amenity.objects.all(), required=False
    )

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
            "host",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["is_active", "created_at", "updated_at"]
