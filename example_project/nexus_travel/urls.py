from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from graphene_django.views import GraphQLView
from rest_framework.routers import DefaultRouter

from bookings.reports import BookingsReportView
from bookings.views import BookingViewSet
from listings.views import ListingViewSet
from nexus_tasks.health import health_view
from nexus_tasks.views import TaskStatusView
from nexus_travel import views
from reviews.views import ReviewViewSet

router = DefaultRouter()
router.register("listings", ListingViewSet, basename="listing")
router.register("bookings", BookingViewSet, basename="booking")
router.register(r"listings/(?P<listing_pk>[0-9]+)/reviews", ReviewViewSet, basename="listing-review")

urlpatterns = [
    path("", views.index, name="index"),
    path("health/", views.health, name="health"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/v<str:version>/reports/bookings/", BookingsReportView.as_view(), name="bookings-report"),
    path("api/v<str:version>/tasks/<str:task_id>/", TaskStatusView.as_view(), name="task-status"),
    path("api/v<str:version>/", include(router.urls)),
    path("health/tasks/", health_view, name="health-tasks"),
    # An API for non-browser clients: no session cookie, so no CSRF token to check.
    path("graphql/", csrf_exempt(GraphQLView.as_view(graphiql=True)), name="graphql"),
]
