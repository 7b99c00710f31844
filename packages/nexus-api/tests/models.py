"""Models of the tests app. Each feature keeps its models in its own module, imported here."""

from __future__ import annotations

from tests.keyset_models import KsHost, KsItem, KsOrdered
from tests.versioning_models import VHost, VListing, VReview

__all__ = ["KsHost", "KsItem", "KsOrdered", "VHost", "VListing", "VReview"]
