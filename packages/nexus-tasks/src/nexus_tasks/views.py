"""``TaskStatusView``: a task's state, progress and result over DRF, for its owner only.

Celery answers PENDING for any id, so the view first looks up the record ``enqueue_with(...,
owner=user)`` wrote: an id without one is 404, and so is another user's task (a 404, not a
403, so that ids cannot be probed). Override ``has_task_permission`` to widen access.
"""

from __future__ import annotations

from typing import Any

from celery import current_app, states
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from nexus_tasks._records import TaskRecord, get_record


class TaskStatusView(APIView):
    permission_classes = [IsAuthenticated]
    #: Database alias of the task records (database store).
    using = "default"

    def has_task_permission(self, request: Request, record: TaskRecord) -> bool:
        """Results are private to the user who enqueued the task."""
        user = request.user
        return record.owner is not None and user is not None and str(getattr(user, "pk", "")) == record.owner

    def get(self, request: Request, task_id: str, *args: Any, **kwargs: Any) -> Response:
        record = get_record(task_id, self.using)
        if record is None or not self.has_task_permission(request, record):
            raise NotFound(f"No task {task_id!r} that you may see.")
        result: Any = current_app.AsyncResult(task_id)
        state = result.state
        body: dict[str, Any] = {"id": task_id, "name": record.task_name, "state": state, "progress": None}
        info = result.info
        if state == "PROGRESS" and isinstance(info, dict):
            body["progress"] = {k: info.get(k) for k in ("done", "total", "message")}
        elif state == states.SUCCESS:
            body["result"] = info
        elif state in states.PROPAGATE_STATES:
            body["error"] = type(info).__name__ if isinstance(info, BaseException) else str(info)
        return Response(body)
