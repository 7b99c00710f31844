"""The listings API: the project's busiest endpoint — cached, keyset-paginated, versioned."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import permissions, viewsets

from listings.models import Listing
from listings.permissions import IsHostOrReadOnly
from listings.serializers import ListingSerializer
from nexus_api.pagination import KeysetPagination
from nexus_cache import CacheResponseMixin
from reviews.models import Review


class ListingPagination(KeysetPagination):
    page_size = 20
    max_page_size = 100


class ListingViewSet(CacheResponseMixin, viewsets.ModelViewSet):
    serializer_class = ListingSerializer
    pagination_class = ListingPagination
    permission_classes = [permissions.IsAuthenticatedOrReadOnly, IsHostOrReadOnly]
    # Newest first; ?ordering=price_per_night,-created_at and friends are allowed too. The
    # primary key is appended as the tie-breaker, so every row appears exactly once.
    ordering = ("-created_at",)
    ordering_fields = ("created_at", "price_per_night", "city", "title")

    # Listings are public: one cached copy serves everyone (the key still covers path,
    # query string, media type, API version and language). The entry is dropped when a
    # listing, its host, its amenities or a review (the embedded rating) changes.
    cache_timeout = 60
    cache_public = True
    cache_depends_on = [Review]

    def get_queryset(self) -> QuerySet[Listing]:
        qs = Listing.objects.filter(is_active=True).select_related("host").prefetch_related("amenities")
        city = self.request.query_params.get("city")
        if city:
            qs = qs.filter(city=city)
        return qs

    def perform_create(self, serializer: Any) -> None:
        serializer.save(host=self.request.user)
