"""Task functions for tests/test_django_contract.py: the shapes Django's own backend tests
enqueue (its tests/tasks/tasks.py), written here for CeleryBackend (Django >= 6.0)."""

from __future__ import annotations

from typing import Any

from django.tasks import TaskContext, task

from tests.gates import wait_at_gate


@task()
def noop_task(*args: Any, **kwargs: Any) -> None:
    return None


@task()
async def noop_task_async(*args: Any, **kwargs: Any) -> None:
    return None


@task()
def calculate_meaning_of_life() -> int:
    return 42


@task()
def failing_task_value_error() -> None:
    raise ValueError("This Task failed due to ValueError")


@task()
def failing_task_system_exit() -> None:
    raise SystemExit("This Task failed due to SystemExit")


@task()
def failing_task_keyboard_interrupt() -> None:
    raise KeyboardInterrupt("This Task failed due to KeyboardInterrupt")


@task()
def complex_exception() -> None:
    raise ValueError(ValueError("This task failed"))


@task()
def complex_return_value() -> object:
    # Neither JSON nor picklable.
    return lambda: True


@task(takes_context=True)
def get_task_id(context: TaskContext) -> str:
    return context.task_result.id


@task(takes_context=True)
def context_attempt(context: TaskContext, attempt: int) -> None:
    assert isinstance(context, TaskContext)
    assert context.attempt == attempt


@task()
def gated(tag: str) -> None:
    """Runs until the test opens its gate (tests.gates): RUNNING for as long as needed."""
    wait_at_gate(tag)
