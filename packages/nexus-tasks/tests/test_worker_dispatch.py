"""With a real worker on Redis and on RabbitMQ: on-commit dispatch never runs early or after
a rollback, and arguments round-trip."""

from __future__ import annotations

import datetime
import decimal
import threading
import time
import uuid

import pytest
from django.db import transaction

from nexus_tasks.models import OutboxMessage

from tests.conftest import wait_for
from tests.models import Event
from tests.tasks import echo_types, record


def test_task_enqueued_in_atomic_runs_only_after_commit(worker, unique_namespace: str) -> None:
    tag = unique_namespace
    with transaction.atomic():
        result = record.enqueue(tag)
        assert result.id  # fixed before anything is sent
        # Give a worker every chance to run it early: it must not even have the message.
        time.sleep(0.5)
        assert not Event.objects.filter(tag=tag).exists()
    wait_for(lambda: Event.objects.filter(tag=tag).exists())
    assert result.get(timeout=10) == tag


def test_rolled_back_enqueue_never_runs(worker, unique_namespace: str) -> None:
    tag = unique_namespace
    try:
        with transaction.atomic():
            record.enqueue(tag)
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    with transaction.atomic():
        record.enqueue(tag, "inner-kept")
        try:
            with transaction.atomic():
                record.enqueue(tag, "savepoint-dropped")
                raise RuntimeError("savepoint rollback")
        except RuntimeError:
            pass
    marker = record.enqueue(f"{tag}-after")
    marker.get(timeout=15)
    # The worker consumes in order: everything sent before the marker has run by now.
    wait_for(lambda: Event.objects.filter(tag=tag).exists())
    assert list(Event.objects.filter(tag=tag).values_list("kind", flat=True)) == ["inner-kept"]


def test_datetime_date_uuid_decimal_round_trip(worker, unique_namespace: str) -> None:
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=datetime.UTC)
    ident = uuid.uuid4()
    result = echo_types.enqueue(
        unique_namespace, when, datetime.date(2026, 2, 3), ident, decimal.Decimal("12.50")
    )
    result.get(timeout=15)
    [event] = Event.objects.filter(tag=unique_namespace)
    assert event.kind == f"True|{when.isoformat()}|2026-02-03|{ident}|12.50"


def test_commit_in_another_thread_is_independent(worker, unique_namespace: str) -> None:
    """Two transactions: only the committed one's task runs."""
    barrier = threading.Barrier(2)

    def commit() -> None:
        with transaction.atomic():
            record.enqueue(unique_namespace, "committed")
            barrier.wait()
        from django.db import connection

        connection.close()

    def rollback() -> None:
        try:
            with transaction.atomic():
                record.enqueue(unique_namespace, "rolled-back")
                barrier.wait()
                raise RuntimeError
        except RuntimeError:
            pass
        from django.db import connection

        connection.close()

    threads = [threading.Thread(target=commit), threading.Thread(target=rollback)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    record.enqueue(f"{unique_namespace}-m").get(timeout=15)
    assert list(Event.objects.filter(tag=unique_namespace).values_list("kind", flat=True)) == ["committed"]


@pytest.mark.django_db(transaction=True, databases=["default", "other"])
def test_using_dispatches_on_commit_of_that_database(worker, unique_namespace: str) -> None:
    tag = unique_namespace
    with transaction.atomic(using="other"):
        result = record.enqueue(tag, using="other")
        with transaction.atomic():  # a commit on "default" is not the one that counts
            Event.objects.create(tag=f"{tag}-unrelated")
        time.sleep(0.3)
        assert not Event.objects.filter(tag=tag).exists()
    assert result.get(timeout=15) == tag
    with transaction.atomic(using="other"):
        durable = record.enqueue(tag, "durable", using="other", durable=True)
        assert OutboxMessage.objects.using("other").filter(task_id=durable.id).exists()
        assert not OutboxMessage.objects.filter(task_id=durable.id).exists()
    assert durable.get(timeout=15) == tag
    assert OutboxMessage.objects.using("other").get(task_id=durable.id).sent_at is not None
