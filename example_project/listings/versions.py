"""What changed in API version 2, declared once (Stripe-style).

Serializers and views are written for version 2 only; nexus-api translates version 1
requests up and version 2 responses down through these changes. `manage.py nexus_api
changelog` prints them.
"""

from __future__ import annotations

from typing import Any

from nexus_api.versioning import AddEndpoint, AddField, RemoveField, RenameField, VersionChange


def _embedded_reviews(listing: Any) -> list[dict[str, Any]]:
    return [
        {"author": review.author.username, "rating": review.rating, "body": review.body}
        for review in listing.reviews.select_related("author").order_by("-created_at", "-id")[:10]
    ]


class RenamePrice(VersionChange):
    version = "2"
    description = "Listing `price` is now `price_per_night`."
    operations = [RenameField("price", "price_per_night")]


class AddAmenities(VersionChange):
    version = "2"
    description = "Listings list their `amenities`."
    operations = [AddField("amenities", default=[])]


class MoveReviews(VersionChange):
    version = "2"
    description = "A listing's reviews moved from the listing to /listings/{id}/reviews/ (keyset-paginated)."
    operations = [RemoveField("reviews", compute=_embedded_reviews), AddEndpoint("/listings/{id}/reviews/")]
