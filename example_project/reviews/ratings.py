"""A listing's rating, cached until one of its reviews changes."""

from __future__ import annotations

from typing import Any

from django.db.models import Avg, Count

from nexus_cache import cached
from reviews.models import Review


@cached(timeout=600)
def listing_rating(listing_id: int) -> dict[str, Any]:
    """Average and count of a listing's reviews.

    No ``depends_on`` is needed: nexus-cache sees that the aggregate reads the reviews table
    and drops the entry when any review is written (after that write commits).
    """
    row = Review.objects.filter(listing_id=listing_id).aggregate(average=Avg("rating"), count=Count("id"))
    average = row["average"]
    return {"average": round(float(average), 2) if average is not None else None, "count": row["count"]}
