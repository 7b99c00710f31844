"""django.tasks functions run by CeleryBackend (Django >= 6.0 only)."""

from __future__ import annotations

import dataclasses
import time
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


def flaky_dj(tag: str, failures: int) -> str:
    done = Event.objects.filter(tag=tag, kind="attempt").count()
    Event.objects.create(tag=tag, kind="attempt")
    if done < failures:
        raise ConnectionError(f"attempt {done + 1}")
    return "ok"


# Django 6.1 would write @task(retry_on=..., max_retries=2, ...); replace() works on 6.0 too.
flaky_dj = dataclasses.replace(
    task(flaky_dj), retry_on=(ConnectionError,), max_retries=2, backoff=0.05, backoff_max=0.1
)


def unique_dj(tag: str, seconds: float) -> str:
    Event.objects.create(tag=tag, kind="ran")
    time.sleep(seconds)
    return tag


unique_dj = dataclasses.replace(task(unique_dj), unique=True, unique_ttl=30)


@task
def exits() -> None:
    raise SystemExit("This Task failed due to SystemExit")


@task
def complex_return_value() -> object:
    return {"not": {1, 2}}


def plain_body() -> None:
    """Decorated inside a test, with options."""
