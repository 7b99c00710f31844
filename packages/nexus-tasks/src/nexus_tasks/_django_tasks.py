"""The Celery side of ``nexus_tasks.backends.CeleryBackend``: one Celery task that runs any
``django.tasks`` task by its module path, and the record both sides share.

The record (``djtask:<id>`` in the nexus-tasks store) holds everything a ``TaskResult``
needs — status, timestamps, worker ids, errors, return value — so ``get_result`` works
from any process without a Celery result backend, and an id that was never enqueued (or
whose transaction rolled back, with the database store) is ``TaskResultDoesNotExist``.
"""

from __future__ import annotations

import json
import traceback
from typing import Any

from django.utils import timezone
from django.utils.module_loading import import_string

from nexus_tasks._task import full_jitter_delay, task
from nexus_tasks.conf import get_settings

RECORD_PREFIX = "djtask:"


def record_key(result_id: str) -> str:
    return f"{RECORD_PREFIX}{result_id}"


def load_record(result_id: str, using: str) -> dict[str, Any] | None:
    from nexus_tasks._store import get_store

    raw = get_store().get(record_key(result_id), using)
    if not raw:
        return None
    data: dict[str, Any] = json.loads(raw)
    return data


def save_record(result_id: str, data: dict[str, Any], using: str) -> None:
    from nexus_tasks._store import get_store

    get_store().put(record_key(result_id), json.dumps(data), get_settings().IDEMPOTENCY_TTL, using)


def _error(exc: BaseException) -> dict[str, str]:
    return {
        "exception_class_path": f"{type(exc).__module__}.{type(exc).__qualname__}",
        "traceback": "".join(traceback.format_exception(exc)),
    }


def _now() -> str:
    return timezone.now().isoformat()


@task(name="nexus_tasks.run_django_task", bind=True)
def run_django_task(self: Any, module_path: str, args: list[Any], kwargs: dict[str, Any], using: str) -> Any:
    """Run a ``django.tasks`` task in a Celery worker, with Django's task signals."""
    from django.tasks import TaskContext
    from django.tasks.base import TaskError, TaskResultStatus
    from django.tasks.signals import task_finished, task_started
    from django.utils.json import normalize_json

    from nexus_tasks.backends import CeleryBackend, build_result

    result_id = str(self.request.id)
    record = load_record(result_id, using)
    if record is None:
        # The record is written before the message is sent: no record means a message
        # that did not come from CeleryBackend.enqueue (or whose record expired).
        raise LookupError(f"No django.tasks record for {result_id}; refusing to run {module_path}.")
    started = _now()
    record["status"] = TaskResultStatus.RUNNING
    record["started_at"] = started
    record["last_attempted_at"] = started
    record["worker_ids"] = [*record.get("worker_ids", []), str(self.request.hostname or "worker")]
    save_record(result_id, record, using)
    task_result = build_result(result_id, record)
    task_started.send(sender=CeleryBackend, task_result=task_result)
    django_task = import_string(module_path)
    try:
        if django_task.takes_context:
            value = django_task.call(TaskContext(task_result=task_result), *args, **kwargs)
        else:
            value = django_task.call(*args, **kwargs)
        value = normalize_json(value)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        retry_on = tuple(getattr(django_task, "retry_on", ()) or ())
        max_retries = int(getattr(django_task, "max_retries", 0) or 0)
        if retry_on and isinstance(exc, retry_on) and self.request.retries < max_retries:
            settings = get_settings()
            backoff = getattr(django_task, "backoff", None)
            backoff_max = getattr(django_task, "backoff_max", None)
            delay = full_jitter_delay(
                self.request.retries,
                settings.RETRY_BACKOFF if backoff is None else backoff,
                settings.RETRY_BACKOFF_MAX if backoff_max is None else backoff_max,
            )
            # Waiting for the retry is READY again (documented status mapping).
            record["status"] = TaskResultStatus.READY
            record["errors"] = [*record.get("errors", []), _error(exc)]
            save_record(result_id, record, using)
            raise self.retry_later(exc, delay, max_retries) from exc
        record["status"] = TaskResultStatus.FAILED
        record["finished_at"] = _now()
        record["errors"] = [*record.get("errors", []), _error(exc)]
        save_record(result_id, record, using)
        failed = build_result(result_id, record)
        assert failed.errors
        assert isinstance(failed.errors[-1], TaskError)
        task_finished.send(sender=CeleryBackend, task_result=failed)
        if not isinstance(exc, Exception):
            # SystemExit and friends fail the task, not the worker process.
            raise RuntimeError(f"{module_path} raised {exc!r}") from exc
        raise
    record["status"] = TaskResultStatus.SUCCESSFUL
    record["finished_at"] = _now()
    record["return_value"] = value
    save_record(result_id, record, using)
    task_finished.send(sender=CeleryBackend, task_result=build_result(result_id, record))
    return value
