"""The listings API: the project's busiest, cached, paginated endpoint."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import permissions, viewsets
from rest_framework.pagination import CursorPagination

from listings.models import Listing
from listings.permissions import IsHostOrReadOnly
from listings.serializers import ListingSerializer


class ListingPagination(CursorPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = ("-created_at", "-id")


class ListingViewSet(viewsets.ModelViewSet):
    serializer_class = ListingSerializer
    pagination_class = ListingPagination
    permission_classes = [permissions.IsAuthenticatedOrReadOnly, IsHostOrReadOnly]

    def get_queryset(self) -> QuerySet[Listing]:
        qs = Listing.objects.filter(is_active=True).select_related("host").prefetch_related("amenities")
        city = self.request.query_params.get("city")
        if city:
            qs = qs.filter(city=city)
        return qs

    def perform_create(self, serializer: Any) -> None:
        serializer.save(host=self.request.user)
