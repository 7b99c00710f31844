"""``nexus_tasks.backends.CeleryBackend``: Django 6's ``django.tasks`` on Celery workers.

``TASKS = {"default": {"BACKEND": "nexus_tasks.backends.CeleryBackend"}}``. Importing this
module needs Django >= 6.0; the rest of nexus-tasks works on Django 5.2 without it.

Mapping:

* ``enqueue`` writes the task record, then sends the message on commit of the
  ``OPTIONS["DATABASE"]`` database (``"default"``), through the outbox with
  ``DISPATCH = "outbox"`` or ``OPTIONS["DURABLE"] = True``;
* ``run_after`` → Celery ``eta``; ``queue_name`` → a Celery queue (``"default"`` is
  Celery's ``task_default_queue``; ``OPTIONS["QUEUE_MAP"]`` renames others);
* ``priority`` (-100…100, higher runs first) → 0…9 levels: on RabbitMQ the AMQP priority
  (queues need ``task_queue_max_priority >= 9``), on Redis kombu's inverted steps (0 is
  first; needs ``broker_transport_options`` ``queue_order_strategy="priority"``). The
  system check ``nexus_tasks.W001`` warns when the broker cannot honour it;
* statuses: READY (enqueued, waiting, also while a Celery retry waits), RUNNING,
  SUCCESSFUL, FAILED (also for a revoked task: it will never run);
* Celery's ``task_always_eager``: the task runs in this process on commit (at once outside
  a transaction, and ``enqueue`` then returns the finished result).
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from typing import TYPE_CHECKING, Any

from celery import current_app
from django.core.checks import CheckMessage, Warning
from django.tasks import Task, TaskResult, TaskResultStatus
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.base import TaskError
from django.tasks.exceptions import TaskResultDoesNotExist
from django.tasks.signals import task_enqueued
from django.utils import timezone
from django.utils.json import normalize_json
from django.utils.module_loading import import_string

from nexus_tasks._django_tasks import load_record, run_django_task, save_record
from nexus_tasks._encoding import canonical_json, validate_arguments
from nexus_tasks._message import Message
from nexus_tasks.conf import get_settings

if TYPE_CHECKING:
    _TaskBase = Task[Any, Any]
else:
    _TaskBase = Task

#: Celery priority levels used (0…9): ten buckets of Django's -100…100.
LEVELS = 10


def priority_level(priority: int) -> int:
    """Django priority → 0 (lowest) … 9 (highest)."""
    return min(LEVELS - 1, max(0, (int(priority) + 100) * LEVELS // 201))


def broker_priority(priority: int, broker_url: str) -> int:
    """The Celery ``priority`` that makes a higher Django priority run first on this
    broker: AMQP's larger-is-first, or Redis's smaller-is-first."""
    level = priority_level(priority)
    if broker_url.startswith(("redis://", "rediss://", "redis+socket://")):
        return LEVELS - 1 - level
    return level


def _parse(value: str | None) -> datetime.datetime | None:
    return datetime.datetime.fromisoformat(value) if value else None


def build_result(result_id: str, record: dict[str, Any]) -> TaskResult[Any, Any]:
    """A ``TaskResult`` from a stored record (status, times, errors, return value)."""
    django_task = import_string(record["module_path"])
    django_task = django_task.using(
        priority=record["priority"],
        queue_name=record["queue_name"],
        run_after=_parse(record.get("run_after")),
        backend=record["backend"],
    )
    result: TaskResult[Any, Any] = TaskResult(
        task=django_task,
        id=result_id,
        status=TaskResultStatus(record["status"]),
        enqueued_at=_parse(record.get("enqueued_at")),
        started_at=_parse(record.get("started_at")),
        finished_at=_parse(record.get("finished_at")),
        last_attempted_at=_parse(record.get("last_attempted_at")),
        args=record["args"],
        kwargs=record["kwargs"],
        backend=record["backend"],
        errors=[TaskError(**error) for error in record.get("errors", [])],
        worker_ids=list(record.get("worker_ids", [])),
    )
    if result.status == TaskResultStatus.SUCCESSFUL:
        object.__setattr__(result, "_return_value", record.get("return_value"))
    return result


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CeleryTask(_TaskBase):
    """A ``django.tasks`` Task with nexus-tasks options, typed. On Django >= 6.1
    ``@task(retry_on=(SMTPException,), max_retries=5, unique=True)`` passes them through."""

    #: Exceptions retried with exponential backoff and full jitter (status READY between).
    retry_on: tuple[type[BaseException], ...] = ()
    max_retries: int = 0
    backoff: float | None = None
    backoff_max: float | None = None
    #: One queued-or-running instance per key (task path + canonical JSON arguments).
    unique: bool = False
    unique_ttl: int | None = None
    #: Fixed unique key text replacing the arguments.
    unique_key: str | None = None


class CeleryBackend(BaseTaskBackend):
    task_class = CeleryTask
    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    supports_priority = True

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        self.database: str = self.options.get("DATABASE", "default")
        self.durable: bool = bool(self.options.get("DURABLE", False))
        self.queue_map: dict[str, str] = dict(self.options.get("QUEUE_MAP", {}))

    def _celery_queue(self, queue_name: str) -> str:
        if queue_name in self.queue_map:
            return self.queue_map[queue_name]
        if queue_name == "default":
            return str(current_app.conf.task_default_queue)
        return queue_name

    def enqueue(self, task: Any, args: Any, kwargs: Any) -> TaskResult[Any, Any]:
        self.validate_task(task)
        args = list(args)
        kwargs = dict(kwargs)
        func = task.func
        if task.takes_context:
            func = _without_context(func)
        # Django's contract: plain JSON arguments (a datetime is a TypeError, not a string
        # the task did not expect); named per parameter, then normalised as TaskResult
        # would (tuples → lists).
        validate_arguments(func, task.module_path, args, kwargs, json_only=True)
        args, kwargs = normalize_json(args), normalize_json(kwargs)
        result_id = str(uuid.uuid4())
        record: dict[str, Any] = {
            "module_path": task.module_path,
            "backend": self.alias,
            "priority": task.priority,
            "queue_name": task.queue_name,
            "run_after": task.run_after.isoformat() if task.run_after else None,
            "status": TaskResultStatus.READY.value,
            "enqueued_at": timezone.now().isoformat(),
            "args": args,
            "kwargs": kwargs,
            "worker_ids": [],
            "errors": [],
        }
        from nexus_tasks._dispatch import schedule

        options: dict[str, Any] = {
            "queue": self._celery_queue(task.queue_name),
            "priority": broker_priority(task.priority, str(current_app.conf.broker_url or "")),
            "headers": {"nexus": {"using": self.database}},
        }
        if task.run_after is not None:
            options["eta"] = task.run_after
        message = Message(
            run_django_task.name,
            result_id,
            [task.module_path, record["args"], record["kwargs"], self.database],
            {},
            options,
            using=self.database,
        )
        if getattr(task, "unique", False):
            holder = self._reserve_unique(task, message)
            if holder is not None:
                # Already queued or running: that one's result, and nothing is sent.
                return self.get_result(holder)
        save_record(result_id, record, self.database)
        durable = self.durable or get_settings().DISPATCH == "outbox"
        result = build_result(result_id, record)
        # Sent before the message leaves, so that under Celery's task_always_eager (the
        # task runs inside schedule() when no transaction is open) receivers see
        # enqueued → started → finished, as with Django's ImmediateBackend.
        task_enqueued.send(type(self), task_result=result)
        eager = schedule(message, durable=durable, release_on_rollback=get_settings().STORE == "redis")
        if eager is not None:
            # It ran eagerly already: hand back what it did, as ImmediateBackend does.
            return self.get_result(result_id)
        return result

    def _reserve_unique(self, task: Any, message: Message) -> str | None:
        """Take the unique lock for ``message`` (owner = its id); the holder's id if taken."""
        from nexus_tasks._store import get_store
        from nexus_tasks._task import unique_lock_key

        explicit = task.unique_key or canonical_json([task.module_path, message.args[1], message.args[2]])
        key = unique_lock_key(run_django_task.name, message.args, {}, explicit)
        ttl = task.unique_ttl or get_settings().UNIQUE_TTL
        holder = get_store().acquire(key, message.task_id, message.task_id, ttl, self.database)
        if holder is None:
            message.unique_key = key
            message.options["headers"]["nexus"]["unique_key"] = explicit
            return None
        return holder or None

    def get_result(self, result_id: str) -> TaskResult[Any, Any]:
        record = load_record(str(result_id), self.database)
        if record is None:
            raise TaskResultDoesNotExist(result_id)
        if record["status"] == TaskResultStatus.READY:
            state = current_app.AsyncResult(str(result_id)).state
            if state == "REVOKED":
                record["status"] = TaskResultStatus.FAILED
        return build_result(str(result_id), record)

    def check(self, **kwargs: Any) -> list[CheckMessage]:
        return priority_warnings(self.alias)


def _without_context(func: Any) -> Any:
    """A signature-only stand-in without the leading ``context`` parameter."""
    import inspect

    signature = inspect.signature(func)
    params = list(signature.parameters.values())[1:]

    def stand_in(*args: Any, **kwargs: Any) -> None:  # pragma: no cover - never called
        return None

    stand_in.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    return stand_in


def priority_warnings(alias: str) -> list[CheckMessage]:
    """``nexus_tasks.W001`` where the broker would ignore ``priority``."""
    conf = current_app.conf
    url = str(conf.broker_url or "")
    problem = None
    if url.startswith(("redis://", "rediss://")):
        options = conf.broker_transport_options or {}
        if options.get("queue_order_strategy") != "priority":
            problem = (
                "Redis ignores priority unless broker_transport_options has "
                "queue_order_strategy='priority' (and priority_steps covering 0-9)."
            )
    elif url.startswith(("amqp://", "amqps://", "pyamqp://")):
        if (conf.task_queue_max_priority or 0) < LEVELS - 1:
            problem = "RabbitMQ ignores priority on queues declared without x-max-priority >= 9."
    elif url:
        problem = f"The broker {url.split(':', 1)[0]!r} has no message priorities."
    if problem is None:
        return []
    return [
        Warning(
            f"TASKS[{alias!r}] (CeleryBackend) supports priority, but the Celery broker cannot honour it: {problem}",
            hint="Configure the broker for priorities, or leave every task at the default priority.",
            id="nexus_tasks.W001",
        )
    ]
