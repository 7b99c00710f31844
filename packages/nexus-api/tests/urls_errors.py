"""Views that fail in every way a DRF view can, for the problem-details tests."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from rest_framework import exceptions, serializers
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from nexus_api.errors import ProblemException


class InvalidCursor(exceptions.APIException):
    """Shaped like nexus_api.pagination.InvalidCursor, which errors.py must not import."""

    status_code = 400
    default_detail = "Invalid cursor."
    default_code = "invalid_cursor"


class OutOfStock(ProblemException):
    status_code = 409
    default_code = "out_of_stock"
    title = "Out of stock"


class Absolute(ProblemException):
    problem_type = "https://errors.example.com/absolute"


class AddressSerializer(serializers.Serializer[Any]):
    city = serializers.CharField()


class BookingSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=5)
    nights = serializers.IntegerField(min_value=1)
    address = AddressSerializer()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("name") == "bad":
            raise serializers.ValidationError("Bad name and nights combination.")
        return attrs


RAISERS: dict[str, Any] = {
    "drf-not-found": lambda: exceptions.NotFound(),
    "http404": lambda: Http404("No Listing matches the given query."),
    "django-permission": lambda: DjangoPermissionDenied(),
    "drf-permission": lambda: exceptions.PermissionDenied(),
    "throttled": lambda: exceptions.Throttled(wait=29.2),
    "invalid-cursor": lambda: InvalidCursor("The cursor was tampered with."),
    "out-of-stock": lambda: OutOfStock("Only 2 left.", available=2, headers={"X-Stock": "2"}),
    "absolute": lambda: Absolute(),
    "django-validation": lambda: DjangoValidationError({"email": ["Enter a valid email address."]}),
    "validation-list": lambda: exceptions.ValidationError(["first problem", "second problem"]),
    "suspicious": lambda: SuspiciousOperation("secret internals"),
    "bare-api": lambda: exceptions.APIException(),
    "dict-detail": lambda: exceptions.APIException({"thing": ["broken"]}),
    "custom-code": lambda: exceptions.NotFound("Gone fishing.", code="listing_missing"),
    "unexpected": lambda: RuntimeError("database password is hunter2"),
}


class RaiseView(APIView):
    def get(self, request: Request, kind: str) -> Response:
        raise RAISERS[kind]()


class HtmlApiRenderer(BaseRenderer):
    """Stands in for the browsable API (format "api") without needing templates."""

    media_type = "text/html"
    format = "api"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        return f"<pre>{data}</pre>".encode()


class BrowsableRaiseView(RaiseView):
    renderer_classes = [JSONRenderer, HtmlApiRenderer]


class BookingView(APIView):
    def post(self, request: Request) -> Response:
        serializer = BookingSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data, status=201)


class PrivateView(APIView):
    authentication_classes = [BasicAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response({})


class PrivateNoChallengeView(PrivateView):
    # Session authentication has no WWW-Authenticate challenge, so DRF answers 403.
    authentication_classes = [SessionAuthentication]


class Throttle(AnonRateThrottle):
    rate = "1/min"
    scope = "nexus-api-tests-errors"


class ThrottledView(APIView):
    throttle_classes = [Throttle]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


def django_view(request: HttpRequest, kind: str) -> HttpResponse:
    """A plain Django view: its errors go through the URLconf's handlers, not DRF."""
    if kind == "ok":
        return HttpResponse("ok")
    raise {
        "denied": DjangoPermissionDenied(),
        "suspicious": SuspiciousOperation("secret internals"),
        "missing": Http404(),
        "crash": RuntimeError("database password is hunter2"),
    }[kind]


handler400 = "nexus_api.errors.handler400"
handler403 = "nexus_api.errors.handler403"
handler404 = "nexus_api.errors.handler404"
handler500 = "nexus_api.errors.handler500"

urlpatterns = [
    path("django/<str:kind>/", django_view),
    path("raise/<str:kind>/", RaiseView.as_view()),
    path("browsable/<str:kind>/", BrowsableRaiseView.as_view()),
    path("bookings/", BookingView.as_view()),
    path("private/", PrivateView.as_view()),
    path("private-no-challenge/", PrivateNoChallengeView.as_view()),
    path("throttled/", ThrottledView.as_view()),
]
