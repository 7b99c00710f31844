"""Views and URLs for the pagination tests (used with ``@pytest.mark.urls``)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import path
from rest_framework import generics, serializers

from nexus_api.pagination import KeysetPagination, PageNumberPagination

from tests.keyset_models import KsItem, KsOrdered


class ItemSerializer(serializers.ModelSerializer[KsItem]):
    host_name = serializers.CharField(source="host.name", default=None, read_only=True)

    class Meta:
        model = KsItem
        fields = ["id", "name", "rank", "score", "created_at", "day", "uid", "host_name"]


class CountedItemSerializer(ItemSerializer):
    """A distinct name: drf-spectacular's stock AutoSchema names the paginated envelope after
    the serializer (``nexus_api.openapi.AutoSchema`` names it per envelope shape)."""


class PagedItemSerializer(ItemSerializer):
    pass


class CountedPagedItemSerializer(ItemSerializer):
    pass


class OrderedSerializer(serializers.ModelSerializer[KsOrdered]):
    class Meta:
        model = KsOrdered
        fields = ["id", "title", "position"]


class SmallKeyset(KeysetPagination):
    page_size = 3
    max_page_size = 10


class CountedKeyset(SmallKeyset):
    count_policy = "exact"


class ItemList(generics.ListAPIView[KsItem]):
    serializer_class = ItemSerializer
    pagination_class = SmallKeyset
    ordering: Any = ("-created_at",)
    ordering_fields: Any = ("name", "rank", "score", "created_at", "day", "host__name")

    def get_queryset(self) -> QuerySet[KsItem]:
        queryset = KsItem.objects.select_related("host")
        name = self.request.query_params.get("name")
        return queryset.filter(name=name) if name else queryset


class CountedItemList(ItemList):
    pagination_class = CountedKeyset
    serializer_class = CountedItemSerializer


class AllFieldsItemList(ItemList):
    ordering_fields = "__all__"


class FixedItemList(ItemList):
    ordering_fields = None


class OrderedList(generics.ListAPIView[KsOrdered]):
    """No ordering on the view: the model's Meta.ordering applies."""

    queryset = KsOrdered.objects.all()
    serializer_class = OrderedSerializer
    pagination_class = SmallKeyset


class SmallPages(PageNumberPagination):
    page_size = 2
    max_page_size = 5
    max_page = 4


class CountedPages(SmallPages):
    count_policy = "exact"


class PagedItems(generics.ListAPIView[KsItem]):
    queryset = KsItem.objects.order_by("name", "id")
    serializer_class = PagedItemSerializer
    pagination_class = SmallPages


class CountedPagedItems(PagedItems):
    pagination_class = CountedPages
    serializer_class = CountedPagedItemSerializer


class UnorderedPagedItems(PagedItems):
    queryset = KsItem.objects.all()


urlpatterns = [
    path("items/", ItemList.as_view()),
    path("items/counted/", CountedItemList.as_view()),
    path("items/all-fields/", AllFieldsItemList.as_view()),
    path("items/fixed/", FixedItemList.as_view()),
    path("ordered/", OrderedList.as_view()),
    path("pages/", PagedItems.as_view()),
    path("pages/counted/", CountedPagedItems.as_view()),
    path("pages/unordered/", UnorderedPagedItems.as_view()),
]
