from __future__ import annotations

from typing import Any

from rest_framework import serializers

from reviews.models import Review


class ReviewSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True)

    class Meta:
        model = Review
        fields = ["id", "listing", "author", "rating", "body", "created_at"]
        read_only_fields = ["listing", "created_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        request = self.context["request"]
        listing_id = self.context["view"].kwargs["listing_pk"]
        if Review.objects.filter(listing_id=listing_id, author=request.user).exists():
            raise serializers.ValidationError(
                "You have already reviewed this listing.", code="duplicate_review"
            )
        return attrs
