"""A listing's reviews: /api/v2/listings/{id}/reviews/ (new in version 2)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from rest_framework import mixins, permissions, viewsets

from listings.models import Listing
from listings.versions import MoveReviews
from nexus_api.pagination import KeysetPagination
from nexus_cache import CacheResponseMixin
from reviews.models import Review
from reviews.serializers import ReviewSerializer


class ReviewViewSet(
    CacheResponseMixin, mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    serializer_class = ReviewSerializer
    pagination_class = KeysetPagination
    permission_classes = [permissions.IsAuthenticatedOrReadOnly]
    ordering = ("-created_at",)
    version_changes = [MoveReviews]  # AddEndpoint: version 1 answers 404 here
    cache_timeout = 60
    cache_public = True

    def get_queryset(self) -> QuerySet[Review]:
        return Review.objects.filter(listing_id=self.kwargs["listing_pk"]).select_related("author")

    def perform_create(self, serializer: Any) -> None:
        listing = get_object_or_404(Listing, pk=self.kwargs["listing_pk"], is_active=True)
        serializer.save(listing=listing, author=self.request.user)
