"""tests/urls_versioning.py plus a view that answers before DRF runs (like a response cache)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.views import APIView

from nexus_api.versioning import NexusVersioning

from tests.urls_versioning import urlpatterns as versioned_patterns


class CachedView(APIView):
    versioning_class = NexusVersioning

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return HttpResponse(b'{"cached": true}', content_type="application/json")


urlpatterns = [
    path("api/<str:version>/cached/", CachedView.as_view()),
    path("hdr/cached/", CachedView.as_view()),
    *versioned_patterns,
]
