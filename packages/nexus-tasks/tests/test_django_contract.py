"""Django's own django.tasks backend contract, run against ``CeleryBackend``.

Each test restates the assertions of a test in Django's suite — ``tests/tasks/`` of the
Django sdist of the installed version (6.0.x, 6.1.x), not copied here — against this
backend with a real worker (Redis), and names it as ``<file>::<TestCase>.<test>``.
Django's two reference backends bracket a queued one: at ``enqueue()`` it answers like
``DummyBackend`` (READY, nothing run yet), once the worker ran the task like
``ImmediateBackend``. Under Celery's ``task_always_eager`` it runs the task inside
``enqueue()`` like ``ImmediateBackend``; the ``ImmediateBackend`` tests that read the log
lines of the task signals (sent in the process that runs the task) run that way. Where
this backend differs by design, the test says so (it waits for the commit; it supports
``run_after`` and ``get_result``). Not collected on Django 5.2 (no ``django.tasks``).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import pickle
import re
from collections.abc import Iterator
from typing import Any
from unittest import mock

import django
import pytest
from asgiref.sync import async_to_sync
from celery import Celery
from django.conf import settings
from django.db import transaction
from django.tasks import (
    DEFAULT_TASK_QUEUE_NAME,
    Task,
    TaskResult,
    TaskResultStatus,
    default_task_backend,
    task_backends,
)
from django.tasks.base import TASK_MAX_PRIORITY, TASK_MIN_PRIORITY
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist, TaskResultMismatch
from django.tasks.signals import task_enqueued
from django.test import override_settings
from django.utils import timezone

from nexus_tasks.backends import CeleryBackend

from tests import contract_tasks as tasks
from tests.conftest import celery_conf, wait_for
from tests.gates import Gate

READY = TaskResultStatus.READY
RUNNING = TaskResultStatus.RUNNING
SUCCESSFUL = TaskResultStatus.SUCCESSFUL
FAILED = TaskResultStatus.FAILED

FAILING = [
    pytest.param(
        tasks.failing_task_value_error, ValueError, "This Task failed due to ValueError", id="value-error"
    ),
    pytest.param(
        tasks.failing_task_system_exit, SystemExit, "This Task failed due to SystemExit", id="system-exit"
    ),
]
NOOPS = [pytest.param(tasks.noop_task, id="sync"), pytest.param(tasks.noop_task_async, id="async")]


def finished(result: TaskResult[Any, Any]) -> TaskResult[Any, Any]:
    """The stored result once a worker has finished the task."""
    return wait_for(lambda: (r := default_task_backend.get_result(result.id)).is_finished and r)  # type: ignore[no-any-return]


@contextlib.contextmanager
def worker_busy(gate: Gate) -> Iterator[None]:
    """Keep the (single, solo) worker running a gated task for the block, so that whatever
    the block enqueues stays queued, untouched, until it ends."""
    blocker = tasks.gated.enqueue(gate.tag)
    wait_for(lambda: gate.runs() == 1)
    yield
    gate.open()
    finished(blocker)


def assert_ran_after_enqueue(result: TaskResult[Any, Any]) -> None:
    assert result.is_finished is True
    assert result.started_at is not None
    assert result.last_attempted_at is not None
    assert result.finished_at is not None
    assert result.enqueued_at is not None
    assert result.started_at >= result.enqueued_at
    assert result.finished_at >= result.started_at


# -- with a worker ----------------------------------------------------------------------


@pytest.mark.usefixtures("transactional_db")
def test_using_correct_backend() -> None:
    """test_dummy_backend.py::DummyBackendTestCase.test_using_correct_backend"""
    assert default_task_backend == task_backends["default"]
    assert isinstance(task_backends["default"], CeleryBackend)
    assert default_task_backend.alias == "default"
    assert default_task_backend.options == settings.TASKS["default"]["OPTIONS"]


@pytest.mark.usefixtures("redis_worker")
@pytest.mark.parametrize("task", NOOPS)
def test_enqueue_task(task: Task[Any, Any]) -> None:
    """test_dummy_backend.py::DummyBackendTestCase.test_enqueue_task at enqueue(), then
    test_immediate_backend.py::ImmediateBackendTestCase.test_enqueue_task once run."""
    result = task.enqueue(1, two=3)
    assert result.status == READY
    assert result.is_finished is False
    assert result.started_at is None
    assert result.last_attempted_at is None
    assert result.finished_at is None
    with pytest.raises(ValueError, match="Task has not finished yet"):
        result.return_value  # noqa: B018
    assert result.task == task
    assert result.args == [1]
    assert result.kwargs == {"two": 3}
    assert result.attempts == 0

    done = finished(result)
    assert done.status == SUCCESSFUL
    assert_ran_after_enqueue(done)
    assert done.return_value is None
    assert done.task == task
    assert done.args == [1]
    assert done.kwargs == {"two": 3}
    assert done.attempts == 1


@pytest.mark.usefixtures("redis_worker")
@pytest.mark.parametrize("task", NOOPS)
def test_enqueue_task_async(task: Task[Any, Any]) -> None:
    """test_dummy_backend.py::DummyBackendTestCase.test_enqueue_task_async, then
    test_immediate_backend.py::ImmediateBackendTestCase.test_enqueue_task_async."""
    result = async_to_sync(task.aenqueue)()
    assert result.status == READY
    assert result.is_finished is False
    assert result.started_at is None
    assert result.args == []
    assert result.kwargs == {}
    assert result.attempts == 0

    finished(result)
    done = async_to_sync(default_task_backend.aget_result)(result.id)
    assert done.status == SUCCESSFUL
    assert_ran_after_enqueue(done)
    assert done.return_value is None
    assert done.task == task
    assert done.attempts == 1


@pytest.mark.usefixtures("redis_worker")
def test_get_result() -> None:
    """test_dummy_backend.py::DummyBackendTestCase.test_get_result and
    test_tasks.py::TaskTestCase.test_get_result (read back before the commit sends it, so
    nothing can have changed it)."""
    with transaction.atomic():
        result = default_task_backend.enqueue(tasks.noop_task, (), {})
        assert default_task_backend.get_result(result.id) == result
        assert tasks.noop_task.get_result(result.id) == result
    finished(result)


@pytest.mark.usefixtures("redis_worker")
def test_get_result_async(gate: Gate) -> None:
    """test_dummy_backend.py::DummyBackendTestCase.test_get_result_async and
    test_tasks.py::TaskTestCase.test_get_result_async (the worker is kept busy, so the
    result is read back before anything can change it)."""
    with worker_busy(gate):
        result = async_to_sync(default_task_backend.aenqueue)(tasks.noop_task, (), {})
        assert async_to_sync(default_task_backend.aget_result)(result.id) == result
        assert async_to_sync(tasks.noop_task.aget_result)(result.id) == result
    finished(result)


@pytest.mark.usefixtures("redis_worker")
def test_refresh_result() -> None:
    """test_dummy_backend.py::DummyBackendTestCase.test_refresh_result and
    test_refresh_result_async (here the worker, not the test, changes the stored result)."""
    result = default_task_backend.enqueue(tasks.calculate_meaning_of_life, (), {})
    assert result.status == READY
    finished(result)
    result.refresh()
    assert result.status == SUCCESSFUL
    assert result.return_value == 42

    result = async_to_sync(default_task_backend.aenqueue)(tasks.calculate_meaning_of_life, (), {})
    assert result.status == READY
    finished(result)
    async_to_sync(result.arefresh)()
    assert result.status == SUCCESSFUL


@pytest.mark.usefixtures("transactional_db")
def test_get_missing_result() -> None:
    """test_dummy_backend.py::DummyBackendTestCase.test_get_missing_result and
    test_tasks.py::TaskTestCase.test_get_missing_result."""
    with pytest.raises(TaskResultDoesNotExist, match="123"):
        default_task_backend.get_result("123")
    with pytest.raises(TaskResultDoesNotExist):
        async_to_sync(default_task_backend.aget_result)("123")
    with pytest.raises(TaskResultDoesNotExist):
        tasks.noop_task.get_result("123")
    with pytest.raises(TaskResultDoesNotExist):
        async_to_sync(tasks.noop_task.aget_result)("123")


@pytest.mark.usefixtures("redis_worker")
def test_get_incorrect_result() -> None:
    """test_tasks.py::TaskTestCase.test_get_incorrect_result and
    test_get_incorrect_result_async."""
    result = default_task_backend.enqueue(tasks.noop_task_async, (), {})
    with pytest.raises(TaskResultMismatch, match="Task does not match"):
        tasks.noop_task.get_result(result.id)
    with pytest.raises(TaskResultMismatch, match="Task does not match"):
        async_to_sync(tasks.noop_task.aget_result)(result.id)
    finished(result)


@pytest.mark.usefixtures("redis_worker")
def test_result() -> None:
    """test_immediate_backend.py::ImmediateBackendTestCase.test_result and
    test_result_async."""
    result = default_task_backend.enqueue(tasks.calculate_meaning_of_life, [], {})
    assert finished(result).return_value == 42
    result = async_to_sync(default_task_backend.aenqueue)(tasks.calculate_meaning_of_life, [], {})
    done = finished(result)
    assert done.status == SUCCESSFUL
    assert done.return_value == 42


@pytest.mark.usefixtures("redis_worker")
@pytest.mark.parametrize(("task", "exception", "message"), FAILING)
def test_catches_exception(task: Task[Any, Any], exception: type[BaseException], message: str) -> None:
    """test_immediate_backend.py::ImmediateBackendTestCase.test_catches_exception (its log
    line is checked by test_eager_catches_exception_and_logs_it)."""
    done = finished(task.enqueue())
    assert done.status == FAILED
    with pytest.raises(ValueError, match="Task failed"):
        done.return_value  # noqa: B018
    assert_ran_after_enqueue(done)
    assert done.errors[0].exception_class is exception
    traceback = done.errors[0].traceback
    assert traceback
    assert traceback.endswith(f"{exception.__name__}: {message}\n"), traceback
    assert done.task == task
    assert done.args == []
    assert done.kwargs == {}


@pytest.mark.usefixtures("redis_worker")
def test_complex_exception() -> None:
    """test_immediate_backend.py::ImmediateBackendTestCase.test_complex_exception."""
    done = finished(tasks.complex_exception.enqueue())
    assert done.status == FAILED
    with pytest.raises(ValueError, match="Task failed"):
        done.return_value  # noqa: B018
    assert_ran_after_enqueue(done)
    assert done._return_value is None
    assert done.errors[0].exception_class is ValueError
    assert 'ValueError(ValueError("This task failed"))' in done.errors[0].traceback
    assert done.task == tasks.complex_exception
    assert done.args == []
    assert done.kwargs == {}


@pytest.mark.usefixtures("redis_worker")
def test_complex_return_value() -> None:
    """test_immediate_backend.py::ImmediateBackendTestCase.test_complex_return_value."""
    done = finished(tasks.complex_return_value.enqueue())
    assert done.status == FAILED
    assert_ran_after_enqueue(done)
    assert done._return_value is None
    assert done.errors[0].exception_class is TypeError
    assert "Unsupported type" in done.errors[0].traceback


@pytest.mark.usefixtures("redis_worker")
def test_takes_context() -> None:
    """test_dummy_backend.py::DummyBackendTestCase.test_takes_context (READY when queued),
    then test_immediate_backend.py::ImmediateBackendTestCase.test_takes_context and
    test_context (run)."""
    result = tasks.get_task_id.enqueue()
    assert result.status == READY
    assert finished(result).return_value == result.id
    assert finished(tasks.context_attempt.enqueue(1)).status == SUCCESSFUL


@pytest.mark.usefixtures("transactional_db")
def test_validate_on_enqueue_and_aenqueue() -> None:
    """test_dummy_backend.py::DummyBackendTestCase.test_validate_on_enqueue and
    test_validate_on_aenqueue, and test_tasks.py::TaskTestCase.test_unknown_queue_name."""
    unchecked_backend = {**settings.TASKS["default"], "QUEUES": []}
    with override_settings(TASKS={"default": unchecked_backend}):
        task = tasks.noop_task.using(queue_name="unknown_queue")  # no QUEUES: not checked
    with pytest.raises(InvalidTask, match="Queue 'unknown_queue' is not valid for backend"):
        task.enqueue()
    with pytest.raises(InvalidTask, match="Queue 'unknown_queue' is not valid for backend"):
        async_to_sync(task.aenqueue)()
    with pytest.raises(InvalidTask, match=re.escape("Queue 'queue-2' is not valid for backend.")):
        tasks.noop_task.using(queue_name="queue-2")


def test_validate_disallowed_async_task() -> None:
    """test_dummy_backend.py::DummyBackendTestCase.test_validate_disallowed_async_task."""
    with (
        mock.patch.multiple(default_task_backend, supports_async_task=False),
        pytest.raises(InvalidTask, match=re.escape("Backend does not support async Tasks.")),
    ):
        default_task_backend.validate_task(tasks.noop_task_async)


def test_check() -> None:
    """test_dummy_backend.py::DummyBackendTestCase.test_check (the broker is configured
    for priorities, so nexus_tasks.W001 has nothing to say)."""
    errors = list(default_task_backend.check())
    assert errors == []


@pytest.mark.usefixtures("redis_worker")
def test_errors() -> None:
    """test_dummy_backend.py::DummyBackendTestCase.test_errors."""
    result = tasks.noop_task.enqueue()
    assert result.errors == []
    finished(result)


@pytest.mark.usefixtures("transactional_db")
def test_enqueue_with_invalid_argument() -> None:
    """test_tasks.py::TaskTestCase.test_enqueue_with_invalid_argument and
    test_aenqueue_with_invalid_argument: arguments are plain JSON."""
    with pytest.raises(TypeError, match="Unsupported type"):
        tasks.noop_task.enqueue(datetime.datetime.now())
    with pytest.raises(TypeError, match="Unsupported type"):
        async_to_sync(tasks.noop_task.aenqueue)(datetime.datetime.now())


@pytest.mark.usefixtures("redis_worker")
def test_priority() -> None:
    """test_tasks.py::TaskTestCase.test_invalid_priority and test_using_priority, and the
    other side of test_custom_backend.py::CustomBackendTestCase.
    test_backend_does_not_support_priority: this backend does, and the result keeps it."""
    message = f"priority must be a whole number between {TASK_MIN_PRIORITY} and {TASK_MAX_PRIORITY}."
    for invalid in (-101, 101, 3.1):
        with pytest.raises(InvalidTask, match=re.escape(message)):
            tasks.noop_task.using(priority=invalid)  # type: ignore[arg-type]
    for valid in (100, -100, 0):
        tasks.noop_task.using(priority=valid)
    assert tasks.noop_task.priority == 0
    assert tasks.noop_task.using(priority=1).priority == 1
    result = tasks.noop_task.using(priority=10).enqueue()
    assert finished(result).task.priority == 10


@pytest.mark.usefixtures("redis_worker")
def test_run_after() -> None:
    """test_tasks.py::TaskTestCase.test_naive_datetime and test_using_run_after, and the
    other side of test_immediate_backend.py::ImmediateBackendTestCase.
    test_cannot_pass_run_after: supports_defer, and the task does not start before it."""
    with pytest.raises(InvalidTask, match=re.escape("run_after must be an aware datetime.")):
        tasks.noop_task.using(run_after=datetime.datetime.now())
    run_after = timezone.now() + datetime.timedelta(seconds=0.5)
    deferred = tasks.noop_task.using(run_after=run_after)
    assert tasks.noop_task.run_after is None
    default_task_backend.validate_task(deferred)  # no "Backend does not support run_after."
    done = finished(deferred.enqueue())
    assert done.task.run_after == run_after
    assert done.started_at is not None
    assert done.started_at >= run_after


@pytest.mark.usefixtures("redis_worker")
def test_queue_name() -> None:
    """test_tasks.py::TaskTestCase.test_using_queue_name; the result keeps the queue."""
    assert tasks.noop_task.queue_name == DEFAULT_TASK_QUEUE_NAME
    high = tasks.noop_task.using(queue_name="high")
    assert high.queue_name == "high"
    assert tasks.noop_task.queue_name == DEFAULT_TASK_QUEUE_NAME
    assert finished(high.enqueue()).task.queue_name == "high"


@pytest.mark.usefixtures("redis_worker")
def test_status_mapping_and_enqueued_signal(gate: Gate) -> None:
    """The states TaskResultStatus defines as a task moves, READY → RUNNING → SUCCESSFUL,
    with what ImmediateBackend._execute_task records at each (started_at and
    last_attempted_at when it starts, a worker id), and task_enqueued sent with the READY
    result as DummyBackend._store_result sends it."""
    seen: list[tuple[object, TaskResultStatus]] = []

    def receiver(sender: object, task_result: TaskResult[Any, Any], **kwargs: Any) -> None:
        seen.append((sender, task_result.status))

    task_enqueued.connect(receiver)
    try:
        result = tasks.gated.enqueue(gate.tag)
    finally:
        task_enqueued.disconnect(receiver)
    assert seen == [(CeleryBackend, READY)]
    wait_for(lambda: gate.runs() == 1)
    running = default_task_backend.get_result(result.id)
    assert running.status == RUNNING
    assert running.is_finished is False
    assert running.started_at is not None
    assert running.last_attempted_at == running.started_at
    assert running.finished_at is None
    assert len(running.worker_ids) == 1
    assert running.attempts == 1
    gate.open()
    done = finished(result)
    assert done.status == SUCCESSFUL
    assert_ran_after_enqueue(done)


@pytest.mark.usefixtures("redis_worker")
def test_waits_for_the_commit() -> None:
    """The other side of test_dummy_backend.py::DummyBackendTransactionTestCase and
    test_immediate_backend.py::ImmediateBackendTransactionTestCase.
    test_doesnt_wait_until_transaction_commit_by_default: this backend does wait."""
    with transaction.atomic():
        result = tasks.noop_task.enqueue()
        assert result.enqueued_at is not None
        assert result.status == READY
    assert finished(result).status == SUCCESSFUL


@pytest.mark.skipif(django.VERSION < (6, 1), reason="Task and TaskResult pickle from Django 6.1")
@pytest.mark.usefixtures("redis_worker")
def test_pickle_task_and_result() -> None:
    """test_tasks.py::TaskTestCase.test_pickle_task and test_pickle_task_result."""
    assert pickle.loads(pickle.dumps(tasks.noop_task)) == tasks.noop_task
    with transaction.atomic():
        result = tasks.noop_task.enqueue()
        assert pickle.loads(pickle.dumps(result)) == result
    finished(result)


# -- eager: the task runs inside enqueue(), as with ImmediateBackend ----------------------


@pytest.fixture
def immediate(eager: Celery, transactional_db: None) -> Iterator[None]:
    """Celery eager mode with task_eager_propagates off: ImmediateBackend records a
    failure on the result instead of raising it."""
    with celery_conf(eager, task_eager_propagates=False):
        yield


def django_tasks_lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    """The django.tasks log lines at ``level`` or above, formatted as assertLogs does
    (with the traceback, where there is one)."""
    formatter = logging.Formatter("%(levelname)s:%(name)s:%(message)s")
    return [formatter.format(r) for r in caplog.records if r.name == "django.tasks" and r.levelno >= level]


@pytest.mark.usefixtures("immediate")
@pytest.mark.parametrize("task", NOOPS)
def test_eager_enqueue_task(task: Task[Any, Any]) -> None:
    """test_immediate_backend.py::ImmediateBackendTestCase.test_enqueue_task, in
    enqueue() itself."""
    result = task.enqueue(1, two=3)
    assert result.status == SUCCESSFUL
    assert_ran_after_enqueue(result)
    assert result.return_value is None
    assert result.task == task
    assert result.args == [1]
    assert result.kwargs == {"two": 3}
    assert result.attempts == 1


@pytest.mark.usefixtures("immediate")
def test_eager_result_async() -> None:
    """test_immediate_backend.py::ImmediateBackendTestCase.test_result_async."""
    result = async_to_sync(default_task_backend.aenqueue)(tasks.calculate_meaning_of_life, [], {})
    assert result.status == SUCCESSFUL
    assert result.return_value == 42


@pytest.mark.usefixtures("immediate")
@pytest.mark.parametrize(("task", "exception", "message"), FAILING)
def test_eager_catches_exception_and_logs_it(
    task: Task[Any, Any], exception: type[BaseException], message: str, caplog: pytest.LogCaptureFixture
) -> None:
    """test_immediate_backend.py::ImmediateBackendTestCase.test_catches_exception."""
    with caplog.at_level(logging.ERROR, logger="django.tasks"):
        result = task.enqueue()
    [line] = django_tasks_lines(caplog, logging.ERROR)
    assert message in line
    assert result.status == FAILED
    with pytest.raises(ValueError, match="Task failed"):
        result.return_value  # noqa: B018
    assert_ran_after_enqueue(result)
    assert result.errors[0].exception_class is exception
    assert result.errors[0].traceback.endswith(f"{exception.__name__}: {message}\n")


@pytest.mark.usefixtures("immediate")
def test_eager_throws_keyboard_interrupt(caplog: pytest.LogCaptureFixture) -> None:
    """test_immediate_backend.py::ImmediateBackendTestCase.test_throws_keyboard_interrupt."""
    with caplog.at_level(logging.ERROR, logger="django.tasks"), pytest.raises(KeyboardInterrupt):
        default_task_backend.enqueue(tasks.failing_task_keyboard_interrupt, [], {})
    assert django_tasks_lines(caplog, logging.ERROR) == []


@pytest.mark.usefixtures("immediate")
def test_eager_enqueue_logs(caplog: pytest.LogCaptureFixture) -> None:
    """test_immediate_backend.py::ImmediateBackendTestCase.test_enqueue_logs and
    test_successful_task_no_none_in_logs."""
    with caplog.at_level(logging.DEBUG, logger="django.tasks"):
        result = tasks.noop_task.enqueue()
    lines = django_tasks_lines(caplog, logging.DEBUG)
    assert len(lines) == 3
    assert "enqueued" in lines[0]
    assert result.id in lines[0]
    assert "state=RUNNING" in lines[1]
    assert result.id in lines[1]
    assert "state=SUCCESSFUL" in lines[2]
    assert result.id in lines[2]
    assert result.status == SUCCESSFUL
    for line in lines:
        assert "None" not in line


@pytest.mark.usefixtures("immediate")
def test_eager_failed_logs(caplog: pytest.LogCaptureFixture) -> None:
    """test_immediate_backend.py::ImmediateBackendTestCase.test_failed_logs."""
    with caplog.at_level(logging.DEBUG, logger="django.tasks"):
        result = tasks.failing_task_value_error.enqueue()
    lines = django_tasks_lines(caplog, logging.DEBUG)
    assert len(lines) == 3
    assert "state=RUNNING" in lines[1]
    assert result.id in lines[1]
    assert "state=FAILED" in lines[2]
    assert result.id in lines[2]


@pytest.mark.usefixtures("immediate")
def test_eager_takes_context() -> None:
    """test_immediate_backend.py::ImmediateBackendTestCase.test_takes_context and
    test_context."""
    result = tasks.get_task_id.enqueue()
    assert result.return_value == result.id
    assert tasks.context_attempt.enqueue(1).status == SUCCESSFUL


@pytest.mark.usefixtures("immediate")
def test_eager_still_waits_for_the_commit() -> None:
    """The other side of test_immediate_backend.py::ImmediateBackendTransactionTestCase.
    test_doesnt_wait_until_transaction_commit_by_default: eager, it runs at the commit."""
    with transaction.atomic():
        result = tasks.noop_task.enqueue()
        assert result.enqueued_at is not None
        assert result.status == READY
    assert default_task_backend.get_result(result.id).status == SUCCESSFUL
