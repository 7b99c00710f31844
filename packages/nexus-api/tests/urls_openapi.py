"""tests/urls_versioning.py plus a keyset-paginated list, a throttled view and the schema views."""

from __future__ import annotations

from typing import Any

from django.urls import include, path
from drf_spectacular.extensions import OpenApiSerializerFieldExtension, OpenApiViewExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework import generics
from rest_framework.throttling import AnonRateThrottle

from nexus_api.pagination import KeysetPagination, PageNumberPagination
from nexus_api.versioning import NexusVersioning

from tests.urls_versioning import ListingSerializer, ReviewSerializer
from tests.urls_versioning import urlpatterns as versioned_patterns
from tests.versioning_models import VListing, VReview


class PriceFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "tests.urls_versioning.PriceField"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {"amount": {"type": "string"}, "currency": {"type": "string"}},
        }


def _object_responses(target: str) -> type[OpenApiViewExtension]:
    class Described(OpenApiViewExtension):
        target_class = target

        def view_replacement(self) -> Any:
            @extend_schema(responses=OpenApiTypes.OBJECT)
            class Fixed(self.target_class):  # type: ignore[name-defined]
                pass

            return Fixed

    return Described


PingSchema = _object_responses("tests.urls_versioning.PingView")
StatsSchema = _object_responses("tests.urls_versioning.ListingStats")
ConditionalSchema = _object_responses("tests.urls_versioning.ConditionalView")
SummarySchema = _object_responses("tests.urls_versioning.SummaryView")


class Custom(generics.GenericAPIView[Any]):
    versioning_class = NexusVersioning
    serializer_class = ReviewSerializer

    @extend_schema(responses={200: ReviewSerializer, 406: OpenApiResponse(description="Declared by hand.")})
    def post(self, request: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


class Keyset(KeysetPagination):
    page_size = 10


class ListingFeed(generics.ListAPIView[VListing]):
    versioning_class = NexusVersioning
    queryset = VListing.objects.all()
    serializer_class = ListingSerializer
    pagination_class = Keyset
    ordering = ("name",)


class ReviewPages(generics.ListAPIView[VReview]):
    versioning_class = NexusVersioning
    queryset = VReview.objects.all()
    serializer_class = ReviewSerializer
    pagination_class = PageNumberPagination
    throttle_classes = [AnonRateThrottle]


class Unversioned(generics.ListCreateAPIView[Any]):
    versioning_class = None
    queryset = VReview.objects.all()
    serializer_class = ReviewSerializer


urlpatterns = [
    path("api/<str:version>/feed/", ListingFeed.as_view(), name="feed"),
    path("api/<str:version>/review-pages/", ReviewPages.as_view(), name="review-pages"),
    path("unversioned/", Unversioned.as_view()),
    path("api/<str:version>/custom/", Custom.as_view()),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # As if NexusVersioning were DEFAULT_VERSIONING_CLASS (read by DRF once, at import).
    path("schema-nexus/", SpectacularAPIView.as_view(versioning_class=NexusVersioning)),
    path("", include(versioned_patterns)),
]
