"""Start a slow report in the background and follow it with nexus-tasks' TaskStatusView."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings.tasks import bookings_report


class ReportRequest(serializers.Serializer):
    city = serializers.CharField(required=False, allow_blank=False, max_length=100)


class BookingsReportView(APIView):
    """POST starts the report and answers 202 with the URL of its status; only the user
    who started it may read that status (and its result)."""

    permission_classes = [permissions.IsAuthenticated]

    def post(self, request: Request, *args: object, **kwargs: object) -> Response:
        params = ReportRequest(data=request.data)
        params.is_valid(raise_exception=True)
        result = bookings_report.enqueue_with(kwargs=dict(params.validated_data), owner=request.user)
        status_url = request.build_absolute_uri(
            reverse("task-status", kwargs={"version": request.version, "task_id": result.id})
        )
        return Response(
            {"id": result.id, "status": status_url},
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": status_url},
        )
