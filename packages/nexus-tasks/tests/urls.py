from __future__ import annotations

from django.urls import path

from nexus_tasks.health import health_view
from nexus_tasks.views import TaskStatusView

urlpatterns = [
    path("tasks/<str:task_id>/", TaskStatusView.as_view(), name="task-status"),
    path("health/", health_view, name="health"),
]
