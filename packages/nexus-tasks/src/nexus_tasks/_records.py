"""Who enqueued a task: the record ``TaskStatusView`` checks before it shows anything.

Celery's result backends answer PENDING for any id, known or not; this record is what lets
the view say 404 for an id nobody enqueued here and keep one user's results from another.
"""

from __future__ import annotations

import dataclasses
import json

from nexus_tasks.conf import get_settings


@dataclasses.dataclass(frozen=True)
class TaskRecord:
    task_id: str
    task_name: str
    owner: str | None


def _key(task_id: str) -> str:
    return f"record:{task_id}"


def remember_owner(task_id: str, task_name: str, owner: str | None, using: str) -> None:
    from nexus_tasks._store import get_store

    value = json.dumps({"name": task_name, "owner": owner})
    get_store().put(_key(task_id), value, get_settings().IDEMPOTENCY_TTL, using)


def get_record(task_id: str, using: str = "default") -> TaskRecord | None:
    from nexus_tasks._store import get_store

    raw = get_store().get(_key(task_id), using)
    if not raw:
        return None
    data = json.loads(raw)
    return TaskRecord(task_id=task_id, task_name=str(data.get("name", "")), owner=data.get("owner"))
