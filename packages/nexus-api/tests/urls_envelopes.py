"""Views sharing one serializer but not one envelope (used with ``@pytest.mark.urls``)."""

from __future__ import annotations

from django.urls import path
from rest_framework import generics, pagination

from tests.keyset_models import KsItem
from tests.keyset_urls import CountedKeyset, CountedPages, ItemSerializer, SmallKeyset, SmallPages


def items_view(paginator: type[pagination.BasePagination]) -> generics.ListAPIView[KsItem]:
    class Items(generics.ListAPIView[KsItem]):
        queryset = KsItem.objects.order_by("name", "id")
        serializer_class = ItemSerializer
        pagination_class = paginator
        ordering = ("name",)

    return Items.as_view()  # type: ignore[return-value]


urlpatterns = [
    path("keyset/", items_view(SmallKeyset)),
    path("keyset/counted/", items_view(CountedKeyset)),
    path("pages/", items_view(SmallPages)),
    path("pages/counted/", items_view(CountedPages)),
    path("drf-pages/", items_view(pagination.PageNumberPagination)),
]
