"""Celery's ``task_always_eager``: ``enqueue()`` runs the task in this process at the moment
it would have been published — on commit, never before it and never after a rollback —
with the dispatch rules (durable/outbox, unique, using=) kept. No worker: the point of
eager mode is that a project's tests run without one; the database, the Redis result
backend and the store are real."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery, states
from celery.result import EagerResult
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from nexus_tasks._store import get_store
from nexus_tasks._task import unique_lock_key
from nexus_tasks.models import DeadLetter, OutboxMessage
from nexus_tasks.testing import broker_down, capture_tasks, drain_outbox

from tests.conftest import celery_conf
from tests.models import Event
from tests.tasks import Flaky, flaky, record, unique_slow

pytestmark = pytest.mark.django_db(transaction=True)


@contextlib.contextmanager
def rolled_back() -> Iterator[None]:
    """A transaction (or savepoint) that rolls back when the block ends."""

    class Rollback(Exception):
        pass

    with contextlib.suppress(Rollback), transaction.atomic():
        yield
        raise Rollback


def kinds(tag: str) -> list[str]:
    return sorted(Event.objects.filter(tag=tag).values_list("kind", flat=True))


def test_runs_on_commit_never_before_and_stores_the_result(eager: Celery, unique_namespace: str) -> None:
    tag = unique_namespace
    with transaction.atomic():
        result = record.enqueue(tag)
        assert kinds(tag) == []  # not before the commit
        assert result.state == states.PENDING
    assert kinds(tag) == ["ran"]  # at the commit, in this process: no worker here
    assert result.state == states.SUCCESS  # task_store_eager_result: in the result backend
    assert result.get(timeout=5) == tag


def test_rollback_and_savepoint_rollback_never_run(eager: Celery, unique_namespace: str) -> None:
    tag = unique_namespace
    with rolled_back():
        record.enqueue(tag, "rolled-back")
    with transaction.atomic():
        record.enqueue(tag, "kept")
        with rolled_back():
            record.enqueue(tag, "savepoint")
    assert kinds(tag) == ["kept"]


def test_outside_a_transaction_it_runs_at_once_and_returns_the_eager_result(
    eager: Celery, unique_namespace: str
) -> None:
    result = record.enqueue(unique_namespace, "direct")
    assert isinstance(result, EagerResult)  # what apply_async returns when eager
    assert result.get() == unique_namespace
    assert kinds(unique_namespace) == ["direct"]


def test_durable_keeps_the_one_insert_and_marks_the_row_sent(eager: Celery, unique_namespace: str) -> None:
    tag = unique_namespace
    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries:
            result = record.enqueue(tag, durable=True)
        assert len(queries) == 1  # the outbox INSERT, as without eager mode
        assert kinds(tag) == []
    assert kinds(tag) == ["ran"]
    assert OutboxMessage.objects.get(task_id=result.id).sent_at is not None
    assert result.get(timeout=5) == tag
    with rolled_back():
        dropped = record.enqueue(tag, "dropped", durable=True)
    assert not OutboxMessage.objects.filter(task_id=dropped.id).exists()
    assert kinds(tag) == ["ran"]


def test_dispatch_outbox_setting_goes_through_the_outbox(
    eager: Celery, unique_namespace: str, settings: Any
) -> None:
    settings.NEXUS_TASKS = {**settings.NEXUS_TASKS, "DISPATCH": "outbox"}
    result = record.enqueue(unique_namespace)
    assert isinstance(result, EagerResult)
    assert OutboxMessage.objects.get(task_id=result.id).sent_at is not None
    assert kinds(unique_namespace) == ["ran"]


@pytest.mark.django_db(transaction=True, databases=["default", "other"])
def test_using_runs_on_commit_of_that_database(eager: Celery, unique_namespace: str) -> None:
    tag = unique_namespace
    with transaction.atomic(using="other"):
        record.enqueue(tag, using="other")
        with transaction.atomic():  # a commit on "default" is not the one that counts
            Event.objects.create(tag=f"{tag}-unrelated")
        assert kinds(tag) == []
    assert kinds(tag) == ["ran"]


def test_unique_duplicate_returns_the_first_id_runs_once_and_releases(
    eager: Celery, unique_namespace: str
) -> None:
    tag = unique_namespace
    key = unique_lock_key(unique_slow.name, [tag, 0.0], {}, None)
    with transaction.atomic():
        first = unique_slow.enqueue(tag, 0.0)
        assert unique_slow.enqueue(tag, 0.0).id == first.id
    assert kinds(tag) == ["ran"]  # once
    assert get_store().get(key, "default") is None  # released when the run ended


def test_exceptions_propagate_at_commit_after_the_retries(eager: Celery, unique_namespace: str) -> None:
    tag = unique_namespace
    with pytest.raises(Flaky), transaction.atomic():
        result = flaky.enqueue(tag, 10)
    # Committed all the same; Celery's eager retries ran at once: 1 run + max_retries=3.
    assert kinds(tag).count("attempt") == 4
    assert DeadLetter.objects.filter(task_id=result.id, reason="max_retries").exists()


def test_retries_then_success_and_failure_stored_without_propagation(
    eager: Celery, unique_namespace: str
) -> None:
    with celery_conf(eager, task_eager_propagates=False), transaction.atomic():
        recovered = flaky.enqueue(unique_namespace, 2)
        failed = flaky.enqueue(f"{unique_namespace}-f", 10)
    assert recovered.get(timeout=5) == "ok"
    assert kinds(unique_namespace) == ["attempt", "attempt", "attempt", "ran"]
    assert failed.state == states.FAILURE


def test_capture_tasks_still_records_instead_of_running(eager: Celery, unique_namespace: str) -> None:
    with capture_tasks() as captured:
        record.enqueue(unique_namespace)
    assert captured.names == [record.name]
    assert kinds(unique_namespace) == []


def test_a_simulated_outage_parks_the_message_and_drain_runs_it(eager: Celery, unique_namespace: str) -> None:
    tag = unique_namespace
    with broker_down():
        failing = flaky.enqueue(tag, 10)
        record.enqueue(tag, "after")
    assert kinds(tag) == []
    assert OutboxMessage.objects.filter(sent_at__isnull=True).count() == 2
    with pytest.raises(Flaky):
        drain_outbox()
    # The failing row was delivered (it ran); the one after it is unclaimed, not stuck.
    assert OutboxMessage.objects.get(task_id=failing.id).sent_at is not None
    pending = OutboxMessage.objects.get(sent_at__isnull=True)
    assert pending.claimed_until is None
    assert drain_outbox() == 1
    assert kinds(tag).count("after") == 1


@pytest.mark.django_db
def test_a_test_transaction_runs_it_with_captured_on_commit_callbacks(
    eager: Celery, unique_namespace: str, django_capture_on_commit_callbacks: Any
) -> None:
    """pytest-django's (and TestCase's) way of running on-commit callbacks."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        record.enqueue(unique_namespace)
    assert kinds(unique_namespace) == []  # the test's transaction never commits
    with django_capture_on_commit_callbacks(execute=True):
        record.enqueue(unique_namespace, "executed")
    assert kinds(unique_namespace) == ["executed"]
    assert len(callbacks) == 1
