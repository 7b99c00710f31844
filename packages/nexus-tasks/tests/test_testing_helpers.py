"""nexus_tasks.testing as a project would use it, inside Django's TestCase."""

from __future__ import annotations

import pytest
from celery.result import AsyncResult
from django.db import transaction
from django.test import TestCase

from nexus_tasks.models import OutboxMessage
from nexus_tasks.testing import broker_down, capture_tasks, drain_outbox

from tests.models import Event
from tests.tasks import record


class CaptureTasksTests(TestCase):
    def test_records_what_was_enqueued_after_the_on_commit_callbacks_run(self) -> None:
        with capture_tasks() as captured:
            with transaction.atomic():
                result = record.enqueue("a", "x")
            try:
                with transaction.atomic():
                    record.enqueue("b")
                    raise RuntimeError
            except RuntimeError:
                pass
        assert captured.names == ["tests.tasks.record"]
        assert captured[0].id == result.id
        assert captured[0].args == ["a", "x"]
        assert len(captured) == 1
        assert [t.name for t in captured] == captured.names

    def test_captured_tasks_can_be_run(self) -> None:
        with capture_tasks() as captured:
            record.enqueue("run-me", countdown=5)
        assert captured[0].options == {"countdown": 5}
        assert captured.run(store_results=False) == ["run-me"]
        assert Event.objects.filter(tag="run-me").count() == 1

    @pytest.mark.requires_redis
    def test_captured_runs_store_results_when_the_project_stores_eager_results(self) -> None:
        # The test settings set CELERY_TASK_STORE_EAGER_RESULT with a Redis result backend:
        # a status view reading the id after run() must see the result, as with eager tasks.
        with capture_tasks() as captured:
            record.enqueue("stored")
        assert captured.run() == ["stored"]
        stored = AsyncResult(captured[0].id)
        assert stored.state == "SUCCESS"
        assert stored.result == "stored"

    @pytest.mark.requires_redis
    def test_store_results_false_leaves_the_result_backend_alone(self) -> None:
        with capture_tasks() as captured:
            record.enqueue("unstored")
        assert captured.run(store_results=False) == ["unstored"]
        assert AsyncResult(captured[0].id).state == "PENDING"

    def test_durable_messages_are_captured_and_marked_sent(self) -> None:
        with capture_tasks() as captured:
            result = record.enqueue("durable", durable=True)
        assert captured[0].id == result.id
        assert OutboxMessage.objects.get(task_id=result.id).sent_at is not None

    def test_without_running_callbacks_an_open_transaction_records_nothing(self) -> None:
        with capture_tasks(run_on_commit=False) as captured:
            record.enqueue("later")
        assert len(captured) == 0


class BrokerDownTests(TestCase):
    def test_messages_wait_in_the_outbox_and_drain_publishes_them(self) -> None:
        with broker_down(), capture_tasks() as outage:
            pass
        assert len(outage) == 0
        with broker_down():
            from nexus_tasks import _dispatch

            message_id = record.enqueue_with(args=("down",), durable=True).id
            # Run the commit callbacks as TestCase never commits.
            from nexus_tasks.testing import _run_new_callbacks

            _run_new_callbacks({"default": 0})
            assert _dispatch._broker_down_until > 0
        row = OutboxMessage.objects.get(task_id=message_id)
        assert row.sent_at is None
        with capture_tasks() as captured:
            assert drain_outbox() == 1
        assert captured.names == ["tests.tasks.record"]
