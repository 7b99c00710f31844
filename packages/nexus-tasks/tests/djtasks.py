"""django.tasks functions run by CeleryBackend (Django >= 6.0 only)."""

from __future__ import annotations

from typing import Any

from django.tasks import TaskContext, task

from tests.models import Event


@task
def add(a: int, b: int) -> int:
    return a + b


@task(takes_context=True)
def with_context(context: TaskContext, value: str) -> dict[str, Any]:
    return {"attempt": context.attempt, "id": context.task_result.id, "value": value}


@task
def fails(message: str) -> None:
    raise ValueError(message)


@task
async def async_add(a: int, b: int) -> int:
    return a + b


@task(queue_name="high")
def on_high_queue(tag: str) -> str:
    Event.objects.create(tag=tag, kind="high-queue")
    return tag


@task
def record_order(tag: str, label: str) -> None:
    Event.objects.create(tag=tag, kind=label)
