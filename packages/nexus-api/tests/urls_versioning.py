"""A small versioned API for the versioning tests: three versions of a listing resource.

Newest (3):  {"id", "name", "price": {"amount", "currency"}, "instant_book", "host": {"id", "display_name"}}
Version 2:   {"id", "name", "price": "12.50", "currency": "EUR", "host": {"id", "name"}}
Version 1:   {"id", "title", "price", "currency", "host", "reviews": [{"rating", "text"}]}
             (reviews moved to /listings/<pk>/reviews/ in version 2)

The serializers and views are written for version 3 only; VersionChange classes
translate for 1 and 2.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import HttpResponse
from django.urls import include, path
from rest_framework import generics, serializers, viewsets
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from nexus_api.versioning import (
    AddEndpoint,
    AddField,
    ChangeContext,
    ChangeField,
    NexusVersioning,
    RemoveEndpoint,
    RemoveField,
    RenameField,
    VersionChange,
    VersionChangesMixin,
    VersionedSerializerMixin,
)

from tests.versioning_models import VHost, VListing, VReview


class ReviewSerializer(serializers.ModelSerializer[VReview]):
    class Meta:
        model = VReview
        fields = ["rating", "text"]


class HostDisplayName(VersionChange):
    """Host `name` is now `display_name`."""

    version = "3"
    operations = [RenameField("name", "display_name")]


class HostSerializer(VersionChangesMixin, serializers.ModelSerializer[VHost]):
    version_changes = [HostDisplayName]

    class Meta:
        model = VHost
        fields = ["id", "display_name"]


class RenameTitle(VersionChange):
    version = "2"
    description = "Listing `title` is now `name`."
    operations = [RenameField("title", "name")]


def _reviews(listing: VListing) -> list[dict[str, Any]]:
    return [dict(item) for item in ReviewSerializer(listing.reviews.all(), many=True).data]


class SplitReviews(VersionChange):
    """Reviews moved out of the listing into /listings/{id}/reviews/."""

    version = "2"
    operations = [RemoveField("reviews", compute=_reviews), AddEndpoint("/listings/{id}/reviews/")]


class PriceObject(VersionChange):
    """`price` is an object with `amount` and `currency`; the `currency` field is gone."""

    version = "3"

    def upgrade_request(self, data: Any, context: ChangeContext) -> Any:
        data = dict(data)
        if "price" in data:
            data["price"] = {"amount": data["price"], "currency": data.pop("currency", "EUR")}
        return data

    def downgrade_response(self, data: Any, context: ChangeContext) -> Any:
        data = dict(data)
        price = data.pop("price")
        rebuilt: dict[str, Any] = {}
        for key, value in data.items():
            rebuilt[key] = value
            if key == "name":
                rebuilt["price"] = price["amount"]
                rebuilt["currency"] = price["currency"]
        return rebuilt


class InstantBook(VersionChange):
    version = "3"
    description = "Listings have `instant_book`."
    operations = [AddField("instant_book", default=False)]


class StatsRemoved(VersionChange):
    version = "3"
    description = "The listing stats endpoint is gone."
    operations = [RemoveEndpoint("/listings/{id}/stats/")]


class RatingAsString(VersionChange):
    """Unused by the views: exercises ChangeField in unit tests."""

    version = "3"
    operations = [
        ChangeField("rating", upgrade_value=int, downgrade_value=str, description="`rating` is an integer")
    ]


class PriceField(serializers.Field[Any, Any, Any, Any]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", **kwargs)

    def to_representation(self, value: VListing) -> dict[str, str]:
        return {"amount": f"{value.price:.2f}", "currency": value.currency}

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict) or "amount" not in data:
            raise serializers.ValidationError("Expected an object with `amount` and `currency`.")
        try:
            amount = Decimal(str(data["amount"]))
        except ArithmeticError:
            raise serializers.ValidationError("`amount` must be a decimal number.") from None
        return {"price": amount, "currency": str(data.get("currency", "EUR"))}


class ListingSerializer(VersionChangesMixin, serializers.ModelSerializer[VListing]):
    """Written for version 3 only."""

    version_changes = [RenameTitle, SplitReviews, PriceObject, InstantBook]
    price = PriceField()
    host = HostSerializer(read_only=True)
    host_id = serializers.PrimaryKeyRelatedField(
        source="host", queryset=VHost.objects.all(), write_only=True, required=False
    )

    class Meta:
        model = VListing
        fields = ["id", "name", "price", "instant_book", "host", "host_id"]

    def validate_name(self, value: str) -> str:
        if value.lower() == "forbidden":
            raise serializers.ValidationError("This name is not allowed.")
        return value


class Pagination(PageNumberPagination):
    page_size = 2

    def get_paginated_response(self, data: Any) -> Response:
        response = super().get_paginated_response(data)
        if response.data["next"]:
            response["Link"] = f'<{response.data["next"]}>; rel="next"'
        return response


class ListingViewSet(viewsets.ModelViewSet[VListing]):
    versioning_class = NexusVersioning
    queryset = VListing.objects.select_related("host").prefetch_related("reviews")
    serializer_class = ListingSerializer
    pagination_class = Pagination


class ReviewList(generics.ListAPIView[VReview]):
    versioning_class = NexusVersioning
    serializer_class = ReviewSerializer
    version_changes = [SplitReviews]

    def get_queryset(self) -> Any:
        return VReview.objects.filter(listing_id=self.kwargs["pk"])


class ListingStats(APIView):
    versioning_class = NexusVersioning
    version_changes = [StatsRemoved]

    def get(self, request: Request, pk: int, **kwargs: Any) -> Response:
        return Response({"reviews": VReview.objects.filter(listing_id=pk).count()})


class ProfileV1(serializers.Serializer[Any]):
    username = serializers.CharField()


class ProfileV3(serializers.Serializer[Any]):
    handle = serializers.CharField()


class ProfileView(VersionedSerializerMixin, generics.GenericAPIView[Any]):
    versioning_class = NexusVersioning
    serializer_classes = {"1": ProfileV1, "3": ProfileV3}

    def get(self, request: Request, **kwargs: Any) -> Response:
        return Response({"serializer": self.get_serializer_class().__name__})

    def post(self, request: Request, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data)


class PingView(APIView):
    versioning_class = NexusVersioning

    def get(self, request: Request, **kwargs: Any) -> Response:
        return Response(
            {
                "version": request.version,
                "self": reverse("ping", request=request),
                "listings": reverse("listing-list", request=request),
            }
        )


class LegacyTotal(VersionChange):
    """`total` is an integer (it was a string)."""

    version = "2"

    # Hooks without the context parameter are accepted.
    def upgrade_request(self, data: Any) -> Any:  # type: ignore[override]
        return {**data, "total": int(data["total"])} if "total" in data else data

    def downgrade_response(self, data: Any) -> Any:  # type: ignore[override]
        return {**data, "total": str(data["total"])}


class SummarySerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=4)
    total = serializers.IntegerField()


class SummaryView(APIView):
    """A plain APIView: the view's version_changes translate its bodies."""

    versioning_class = NexusVersioning
    version_changes = [RenameTitle, LegacyTotal]

    def get(self, request: Request, **kwargs: Any) -> Response:
        return Response({"name": "Loft", "total": 3})

    def post(self, request: Request, **kwargs: Any) -> Response:
        serializer = SummarySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response({**serializer.validated_data, "received": type(request.data).__name__})


class PlainListingSerializer(serializers.ModelSerializer[VListing]):
    class Meta:
        model = VListing
        fields = ["id", "name"]


class PlainListingList(generics.ListAPIView[VListing]):
    """A serializer without the mixin: the view translates each item of the envelope."""

    versioning_class = NexusVersioning
    queryset = VListing.objects.all()
    serializer_class = PlainListingSerializer
    pagination_class = Pagination
    version_changes = [RenameTitle]


class PlainListingDetail(generics.RetrieveAPIView[VListing]):
    """Lists a change its serializer already applies: it must be applied once."""

    versioning_class = NexusVersioning
    queryset = VListing.objects.select_related("host").prefetch_related("reviews")
    serializer_class = ListingSerializer
    version_changes = [RenameTitle, InstantBook]


class ConditionalView(APIView):
    """Answers If-None-Match itself: a 304 produced inside DRF."""

    versioning_class = NexusVersioning

    def get(self, request: Request, **kwargs: Any) -> Response:
        if request.headers.get("If-None-Match") == '"v"':
            return Response(status=304)
        return Response({"ok": True}, headers={"ETag": '"v"'})


def plain_view(request: Any) -> HttpResponse:
    return HttpResponse("plain")


router = SimpleRouter()
router.register("listings", ListingViewSet, basename="listing")

versioned = [
    path("", include(router.urls)),
    path("listings/<int:pk>/reviews/", ReviewList.as_view(), name="listing-reviews"),
    path("listings/<int:pk>/stats/", ListingStats.as_view(), name="listing-stats"),
    path("profile/", ProfileView.as_view(), name="profile"),
    path("ping/", PingView.as_view(), name="ping"),
    path("summary/", SummaryView.as_view(), name="summary"),
    path("conditional/", ConditionalView.as_view(), name="conditional"),
    path("plain-listings/", PlainListingList.as_view(), name="plain-listings"),
    path("plain-listings/<int:pk>/", PlainListingDetail.as_view(), name="plain-listing"),
]

urlpatterns = [
    path("api/<str:version>/", include(versioned)),
    path("hdr/", include((versioned, "hdr"))),
    path("plain/", plain_view),
]
