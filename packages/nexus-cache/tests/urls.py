from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from graphene_django.views import GraphQLView
from rest_framework import pagination, routers, serializers, viewsets
from rest_framework.decorators import api_view
from rest_framework.response import Response

from nexus_cache import CacheResponseMixin, cache_view

from tests.models import Listing, Review


class ListingSerializer(serializers.ModelSerializer):
    class Meta:
        model = Listing
        fields = ["id", "city", "price"]


class Page(pagination.PageNumberPagination):
    page_size = 50


class ListingViewSet(CacheResponseMixin, viewsets.ModelViewSet):
    queryset = Listing.objects.all().order_by("id")
    serializer_class = ListingSerializer
    pagination_class = Page
    cache_timeout = 60

    def list(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        response = super().list(request, *args, **kwargs)
        response.data["user"] = str(request.user)
        return response


class PublicListingViewSet(ListingViewSet):
    cache_public = True
    cache_depends_on = [Review]


class CookieViewSet(CacheResponseMixin, viewsets.ViewSet):
    def list(self, request):  # type: ignore[no-untyped-def]
        response = Response({"n": Listing.objects.count()})
        if request.query_params.get("cookie"):
            response.set_cookie("k", "v")
        if request.query_params.get("private"):
            response["Cache-Control"] = "private"
        if request.query_params.get("status"):
            response.status_code = int(request.query_params["status"])
        if request.query_params.get("vary"):
            response["Vary"] = "X-Flavour"
        return response


router = routers.DefaultRouter()
router.register("listings", ListingViewSet, basename="listing")
router.register("public-listings", PublicListingViewSet, basename="public-listing")
router.register("cookies", CookieViewSet, basename="cookie")


@cache_view(timeout=60)
def count_view(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"n": Listing.objects.count(), "user": str(request.user)})


@cache_view(timeout=60, public=True)
async def async_count_view(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"n": await Listing.objects.acount()})


@cache_view
def post_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(Listing.objects.count()))


@api_view(["GET"])
def plain_api(request):  # type: ignore[no-untyped-def]
    return Response({"ok": True})


urlpatterns = [
    path("api/", include(router.urls)),
    path("count/", count_view),
    path("acount/", async_count_view),
    path("post/", post_view),
    path("graphql/", GraphQLView.as_view()),
]
