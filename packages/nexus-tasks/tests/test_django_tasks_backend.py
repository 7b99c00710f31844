"""The django.tasks backend contract (the behaviours Django's own backend tests check),
run against CeleryBackend with real workers on Redis and RabbitMQ (Django >= 6.0)."""

from __future__ import annotations

import asyncio
import datetime

import django
import pytest
from asgiref.sync import async_to_sync
from django.core.checks import Warning
from django.db import transaction
from django.tasks import TaskResultStatus, default_task_backend, task_backends
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist, TaskResultMismatch
from django.tasks.signals import task_enqueued, task_finished, task_started
from django.test import override_settings
from django.utils import timezone

from nexus_tasks.backends import CeleryBackend, CeleryTask, broker_priority, priority_level, priority_warnings
from nexus_tasks.testing import capture_tasks

from tests import djtasks
from tests.conftest import celery_conf, wait_for
from tests.models import Event


def finished(result_id: str, timeout: float = 20):  # type: ignore[no-untyped-def]
    return wait_for(
        lambda: (r := default_task_backend.get_result(result_id)).is_finished and r,
        timeout=timeout,
    )


def test_backend_capabilities() -> None:
    backend = task_backends["default"]
    assert isinstance(backend, CeleryBackend)
    assert backend.supports_defer
    assert backend.supports_get_result
    assert backend.supports_priority
    assert backend.supports_async_task


def test_enqueue_returns_a_ready_result_and_sends_task_enqueued(worker) -> None:
    seen = []

    def receiver(sender, task_result, **kwargs):  # type: ignore[no-untyped-def]
        seen.append((sender, task_result.id))

    task_enqueued.connect(receiver)
    try:
        result = djtasks.add.enqueue(2, 3)
    finally:
        task_enqueued.disconnect(receiver)
    assert result.status == TaskResultStatus.READY
    assert result.args == [2, 3]
    assert result.kwargs == {}
    assert result.backend == "default"
    assert result.task.func is djtasks.add.func
    assert result.task == djtasks.add
    assert result.enqueued_at is not None
    assert result.started_at is None
    assert seen == [(CeleryBackend, result.id)]
    with pytest.raises(ValueError, match="not finished"):
        result.return_value  # noqa: B018
    done = finished(result.id)
    assert done.status == TaskResultStatus.SUCCESSFUL
    assert done.return_value == 5
    assert done.started_at <= done.finished_at
    assert done.attempts == 1
    assert len(done.worker_ids) == 1
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert djtasks.add.get_result(result.id).return_value == 5
    with pytest.raises(TaskResultMismatch):
        djtasks.fails.get_result(result.id)


def test_unknown_result_id_raises(transactional_db) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TaskResultDoesNotExist):
        default_task_backend.get_result("not-a-task")
    with pytest.raises(TaskResultDoesNotExist):
        async_to_sync(default_task_backend.aget_result)("not-a-task")


def test_failure_is_recorded_with_the_exception_path_and_traceback(worker) -> None:
    result = djtasks.fails.enqueue("boom")
    done = finished(result.id)
    assert done.status == TaskResultStatus.FAILED
    [error] = done.errors
    assert error.exception_class_path == "builtins.ValueError"
    assert error.exception_class is ValueError
    assert "boom" in error.traceback
    with pytest.raises(ValueError, match="Task failed"):
        done.return_value  # noqa: B018


def test_takes_context_gets_the_attempt_and_result(worker) -> None:
    result = djtasks.with_context.enqueue("v")
    done = finished(result.id)
    assert done.return_value == {"attempt": 1, "id": result.id, "value": "v"}


def test_async_task_via_aenqueue_and_aget_result(worker) -> None:
    async def go():  # type: ignore[no-untyped-def]
        result = await djtasks.async_add.aenqueue(20, 22)
        for _ in range(400):
            current = await default_task_backend.aget_result(result.id)
            if current.is_finished:
                return current
            await asyncio.sleep(0.05)
        raise AssertionError("not finished")

    done = async_to_sync(go)()
    assert done.return_value == 42


def test_run_after_is_never_run_early(worker) -> None:
    run_after = timezone.now() + datetime.timedelta(seconds=2)
    result = djtasks.add.using(run_after=run_after).enqueue(1, 1)
    early = default_task_backend.get_result(result.id)
    if timezone.now() < run_after:  # read before run_after: it cannot have started
        assert early.status == TaskResultStatus.READY
    done = finished(result.id)
    assert done.started_at >= run_after
    assert done.task.run_after == run_after


def test_queue_names_are_mapped_and_validated(worker, unique_namespace: str) -> None:
    result = djtasks.on_high_queue.enqueue(unique_namespace)
    assert finished(result.id).return_value == unique_namespace
    with pytest.raises(InvalidTask, match="Queue 'nope'"):
        djtasks.add.using(queue_name="nope").enqueue(1, 2)


def test_priority_validation_and_mapping() -> None:
    with pytest.raises(InvalidTask, match="priority"):
        djtasks.add.using(priority=101).enqueue(1, 2)
    assert priority_level(-100) == 0
    assert priority_level(0) == 4
    assert priority_level(100) == 9
    assert broker_priority(100, "amqp://x") == 9
    assert broker_priority(100, "redis://x") == 0  # kombu's Redis: 0 runs first


def test_higher_priority_runs_first(worker, unique_namespace: str) -> None:
    worker.stop()  # queue everything before a worker looks at the queue
    for label in ("low-1", "low-2", "low-3"):
        djtasks.record_order.using(priority=-50).enqueue(unique_namespace, label)
    for label in ("high-1", "high-2", "high-3"):
        djtasks.record_order.using(priority=90).enqueue(unique_namespace, label)
    worker.ensure()
    wait_for(lambda: Event.objects.filter(tag=unique_namespace).count() == 6)
    order = list(Event.objects.filter(tag=unique_namespace).order_by("id").values_list("kind", flat=True))
    assert [label[:4] for label in order] == ["high"] * 3 + ["low-"] * 3


def test_enqueue_in_a_rolled_back_transaction_never_runs_and_has_no_result(worker) -> None:
    try:
        with transaction.atomic():
            result = djtasks.add.enqueue(1, 2)
            raise RuntimeError
    except RuntimeError:
        pass
    with pytest.raises(TaskResultDoesNotExist):
        default_task_backend.get_result(result.id)


def test_task_signals_in_the_worker_process(transactional_db, redis_broker: str) -> None:
    events = []

    def on_started(sender, task_result, **kwargs):  # type: ignore[no-untyped-def]
        events.append(("started", sender, task_result.status))

    def on_finished(sender, task_result, **kwargs):  # type: ignore[no-untyped-def]
        events.append(("finished", sender, task_result.status))

    task_started.connect(on_started)
    task_finished.connect(on_finished)
    try:
        with capture_tasks() as captured:
            ok = djtasks.add.enqueue(1, 2)
            bad = djtasks.fails.enqueue("x")
        for item in captured:
            from celery import current_app

            current_app.tasks[item.name].apply(args=item.args, task_id=item.id)
    finally:
        task_started.disconnect(on_started)
        task_finished.disconnect(on_finished)
    assert events == [
        ("started", CeleryBackend, TaskResultStatus.RUNNING),
        ("finished", CeleryBackend, TaskResultStatus.SUCCESSFUL),
        ("started", CeleryBackend, TaskResultStatus.RUNNING),
        ("finished", CeleryBackend, TaskResultStatus.FAILED),
    ]
    assert default_task_backend.get_result(ok.id).return_value == 3
    assert default_task_backend.get_result(bad.id).status == TaskResultStatus.FAILED


def test_revoked_task_reports_failed(transactional_db, redis_broker: str) -> None:
    from celery import current_app

    with capture_tasks():
        result = djtasks.add.enqueue(1, 1)
    backend = current_app.backend
    key = backend.get_key_for_task(result.id)
    backend.client.set(key, backend.encode({"task_id": result.id, "status": "REVOKED", "result": None}))
    assert default_task_backend.get_result(result.id).status == TaskResultStatus.FAILED


def test_priority_check_warns_where_the_broker_cannot_honour_it(redis_broker: str) -> None:
    from celery import current_app

    assert priority_warnings("default") == []
    with override_settings():
        previous = current_app.conf.broker_transport_options
        current_app.conf.broker_transport_options = {}
        try:
            [warning] = priority_warnings("default")
        finally:
            current_app.conf.broker_transport_options = previous
    assert isinstance(warning, Warning)
    assert warning.id == "nexus_tasks.W001"


def test_typed_retry_options_retry_with_ready_status_then_succeed(worker, unique_namespace: str) -> None:
    result = djtasks.flaky_dj.enqueue(unique_namespace, 2)
    done = finished(result.id)
    assert done.status == TaskResultStatus.SUCCESSFUL
    assert done.return_value == "ok"
    assert [e.exception_class_path for e in done.errors] == ["builtins.ConnectionError"] * 2
    assert Event.objects.filter(tag=unique_namespace, kind="attempt").count() == 3


def test_typed_unique_option_returns_the_queued_result(worker, unique_namespace: str) -> None:
    with transaction.atomic():
        first = djtasks.unique_dj.enqueue(unique_namespace, 0.3)
        again = djtasks.unique_dj.enqueue(unique_namespace, 0.3)
    assert again.id == first.id
    finished(first.id)
    assert Event.objects.filter(tag=unique_namespace).count() == 1
    third = djtasks.unique_dj.enqueue(unique_namespace, 0.0)  # released when it finished
    assert third.id != first.id
    finished(third.id)


def test_task_decorator_passes_typed_options_from_django_61(transactional_db) -> None:  # type: ignore[no-untyped-def]
    from django.tasks import task

    body = djtasks.plain_body
    if django.VERSION < (6, 1):  # 6.0's @task takes no extra options: replace() instead
        with pytest.raises(TypeError):
            task(retry_on=(ValueError,))(body)
        return
    configured = task(retry_on=(ValueError,), max_retries=4, unique=True)(body)
    assert isinstance(configured, CeleryTask)
    assert (configured.retry_on, configured.max_retries, configured.unique) == ((ValueError,), 4, True)


def test_system_exit_and_unserialisable_return_values_fail_the_task_not_the_worker(worker) -> None:
    exited = djtasks.exits.enqueue()
    bad_value = djtasks.complex_return_value.enqueue()
    done = finished(exited.id)
    assert done.status == TaskResultStatus.FAILED
    assert done.errors[0].exception_class is SystemExit
    assert done.errors[0].traceback.endswith("SystemExit: This Task failed due to SystemExit\n")
    bad = finished(bad_value.id)
    assert bad.status == TaskResultStatus.FAILED
    assert bad.errors[0].exception_class is TypeError
    assert worker.alive()


def test_celery_eager_mode_runs_on_commit_with_the_signals_in_order(
    transactional_db, redis_broker: str
) -> None:  # type: ignore[no-untyped-def]
    from celery import current_app

    events = []

    def receiver(signal_name):  # type: ignore[no-untyped-def]
        def on_signal(sender, task_result, **kwargs):  # type: ignore[no-untyped-def]
            events.append((signal_name, task_result.id, task_result.status))

        return on_signal

    handlers = {
        sig: receiver(name)
        for sig, name in [(task_enqueued, "enqueued"), (task_started, "started"), (task_finished, "finished")]
    }
    for sig, handler in handlers.items():
        sig.connect(handler)
    try:
        with celery_conf(
            current_app._get_current_object(), task_always_eager=True, task_eager_propagates=False
        ):
            with transaction.atomic():
                queued = djtasks.add.enqueue(1, 2)
                assert queued.status == TaskResultStatus.READY
                assert [e[0] for e in events] == ["enqueued"]  # nothing ran before the commit
            assert default_task_backend.get_result(queued.id).return_value == 3
            direct = djtasks.add.enqueue(2, 2)  # no transaction: runs at once, like ImmediateBackend
            failed = djtasks.fails.enqueue("x")
            try:
                with transaction.atomic():
                    dropped = djtasks.add.enqueue(5, 5)
                    raise RuntimeError
            except RuntimeError:
                pass
    finally:
        for sig, handler in handlers.items():
            sig.disconnect(handler)
    assert (direct.status, direct.return_value) == (TaskResultStatus.SUCCESSFUL, 4)
    assert failed.status == TaskResultStatus.FAILED
    with pytest.raises(TaskResultDoesNotExist):
        default_task_backend.get_result(dropped.id)
    ready, running, ok, failing = (
        TaskResultStatus.READY,
        TaskResultStatus.RUNNING,
        TaskResultStatus.SUCCESSFUL,
        TaskResultStatus.FAILED,
    )
    assert events == [
        ("enqueued", queued.id, ready),
        ("started", queued.id, running),
        ("finished", queued.id, ok),
        ("enqueued", direct.id, ready),
        ("started", direct.id, running),
        ("finished", direct.id, ok),
        ("enqueued", failed.id, ready),
        ("started", failed.id, running),
        ("finished", failed.id, failing),
        ("enqueued", dropped.id, ready),
    ]
