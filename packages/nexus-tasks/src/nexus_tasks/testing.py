"""Helpers for a project's own tests: see what code enqueued without a broker, drain the
outbox synchronously, and simulate a broker outage.

``capture_tasks()`` runs the on-commit callbacks registered inside the block when it exits
(also inside Django's ``TestCase``, whose transaction never commits), so the dispatch
rules are exercised as in production: a message enqueued in a block that rolled back is
not recorded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator
from typing import Any

from celery import current_app
from django.db import connections

from nexus_tasks import _dispatch
from nexus_tasks._message import Message


@dataclasses.dataclass(frozen=True)
class CapturedTask:
    name: str
    id: str
    args: list[Any]
    kwargs: dict[str, Any]
    options: dict[str, Any]
    using: str


class CapturedTasks:
    """What a ``capture_tasks()`` block dispatched, in order."""

    def __init__(self) -> None:
        self.tasks: list[CapturedTask] = []

    def __len__(self) -> int:
        return len(self.tasks)

    def __iter__(self) -> Iterator[CapturedTask]:
        return iter(self.tasks)

    def __getitem__(self, index: int) -> CapturedTask:
        return self.tasks[index]

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tasks]

    def _record(self, message: Message) -> bool:
        self.tasks.append(
            CapturedTask(
                name=message.task_name,
                id=message.task_id,
                args=list(message.args),
                kwargs=dict(message.kwargs),
                options={k: v for k, v in message.options.items() if k != "headers"},
                using=message.using,
            )
        )
        return True

    def run(self, *, store_results: bool | None = None) -> list[Any]:
        """Run every captured task in this process (``Task.apply``) and return the results;
        tasks they enqueue are captured and run too.

        ``store_results`` decides whether results and progress also reach the result
        backend, so that a status view or ``AsyncResult(id)`` sees them: by default they do
        when the project stores in-process results (``CELERY_TASK_STORE_EAGER_RESULT``), as
        Celery does for eager runs; ``False`` runs without touching the result backend (a
        test that should not need that service)."""
        results: list[Any] = []
        index = 0
        while index < len(self.tasks):
            captured = self.tasks[index]
            task = current_app.tasks[captured.name]
            results.append(
                task.apply(
                    args=captured.args,
                    kwargs=captured.kwargs,
                    task_id=captured.id,
                    headers={"nexus": {"using": captured.using}},
                    ignore_result=(not task.store_eager_result)
                    if store_results is None
                    else not store_results,
                ).get()
            )
            index += 1
        return results


def _run_new_callbacks(starts: dict[str, int]) -> None:
    """Run (and remove) nexus-tasks' on-commit callbacks registered after ``starts``."""
    for alias, start in starts.items():
        connection = connections[alias]
        while True:
            pending = connection.run_on_commit[start:]
            ours = [entry for entry in pending if isinstance(entry[1], _dispatch._Callback)]
            if not ours:
                break
            connection.run_on_commit[start:] = [
                e for e in pending if not isinstance(e[1], _dispatch._Callback)
            ]
            for entry in ours:
                entry[1]()


@contextlib.contextmanager
def capture_tasks(*, run_on_commit: bool = True) -> Iterator[CapturedTasks]:
    """Record what the block enqueues instead of sending it to a broker.

    ``run_on_commit=False`` leaves callbacks of a still-open transaction alone (they are
    recorded only if that transaction commits inside the block).
    """
    captured = CapturedTasks()
    starts = {alias: len(connections[alias].run_on_commit) for alias in connections}
    _dispatch._interceptors.append(captured._record)
    try:
        yield captured
        if run_on_commit:
            _run_new_callbacks(starts)
    finally:
        _dispatch._interceptors.remove(captured._record)


def drain_outbox(using: str = "default") -> int:
    """Publish every pending outbox row now; returns how many were published."""
    from nexus_tasks.relay import drain

    return drain(using)


@contextlib.contextmanager
def broker_down() -> Iterator[None]:
    """Inside the block every publish fails at once as if the broker were unreachable:
    on-commit messages land in the outbox, durable ones stay pending for the relay."""
    previous = _dispatch._broker_down_until
    _dispatch._broker_down_until = math.inf
    try:
        yield
    finally:
        _dispatch._broker_down_until = previous
