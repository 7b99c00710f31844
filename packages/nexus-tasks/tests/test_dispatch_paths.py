"""Dispatch edge paths in-process, against the real Redis broker (no worker needed) where
a test takes ``redis_broker``."""

from __future__ import annotations

import datetime

import pytest
from django.db import transaction
from django.utils import timezone

from nexus_tasks import TaskPublishError, _dispatch
from nexus_tasks._message import Message
from nexus_tasks._store import get_store
from nexus_tasks.health import health_report
from nexus_tasks.models import OutboxMessage
from nexus_tasks.tasks import relay_outbox
from nexus_tasks.testing import broker_down, capture_tasks
from nexus_testing import redis_url

from tests.celery_app import make_app
from tests.conftest import close_app, current_app
from tests.tasks import record

pytestmark = pytest.mark.django_db(transaction=True)


def message(task_id: str = "m-1") -> Message:
    return Message(record.name, task_id, ["paths"], {}, {"headers": {"nexus": {"using": "default"}}})


def test_publish_raises_while_the_breaker_is_open_and_is_intercepted_in_capture(redis_broker: str) -> None:
    with broker_down(), pytest.raises(TaskPublishError, match="broker failed"):
        _dispatch.publish(message())
    with capture_tasks() as captured:
        _dispatch.publish(message("m-2"))
    assert captured[0].id == "m-2"
    _dispatch.publish(message("m-3"))  # the real broker takes it


def test_expires_is_sent_as_a_message_expiration(redis_broker: str) -> None:
    for expires in (60, timezone.now() + datetime.timedelta(minutes=1)):
        result = record.enqueue_with(args=("expiring",), expires=expires)
        assert result.id


def test_commit_publisher_steps_back_when_a_relay_owns_the_row(redis_broker: str, settings) -> None:  # type: ignore[no-untyped-def]
    settings.NEXUS_TASKS = {**settings.NEXUS_TASKS, "OUTBOX_CLAIM_TIMEOUT": 1}
    with capture_tasks(run_on_commit=False) as captured, transaction.atomic():
        result = record.enqueue("relay-owned", durable=True)
        # As if a relay had claimed the row (its claim is newer than the insert's).
        OutboxMessage.objects.filter(task_id=result.id).update(
            claimed_until=timezone.now() + datetime.timedelta(seconds=60)
        )
    assert len(captured) == 0  # the committing process did not publish it a second time
    assert OutboxMessage.objects.get(task_id=result.id).sent_at is None


def test_lapsed_claim_is_retaken_and_published(redis_broker: str, settings) -> None:  # type: ignore[no-untyped-def]
    settings.NEXUS_TASKS = {**settings.NEXUS_TASKS, "OUTBOX_CLAIM_TIMEOUT": 1}
    with capture_tasks(run_on_commit=False) as captured, transaction.atomic():
        result = record.enqueue("lapsed", durable=True)
    assert [t.id for t in captured] == [result.id]
    assert OutboxMessage.objects.get(task_id=result.id).sent_at is not None


def test_when_neither_broker_nor_outbox_take_it_the_error_is_clear_and_the_lock_released(
    redis_broker: str,
) -> None:
    OutboxMessage.objects.create(
        task_id="dup",
        task_name=record.name,
        payload="{}",
        created_at=timezone.now(),
        next_attempt_at=timezone.now(),
    )
    doomed = message("dup")
    doomed.unique_key = "unique:paths:dup"
    assert get_store().acquire("unique:paths:dup", "dup", "dup", 60, "default") is None
    with broker_down(), pytest.raises(TaskPublishError, match="NOT queued"):
        _dispatch.publish_or_fallback(doomed)
    assert get_store().get("unique:paths:dup", "default") is None


def test_health_reports_an_unreachable_broker(redis_broker: str, tcp_proxy) -> None:  # type: ignore[no-untyped-def]
    proxy = tcp_proxy.for_url(redis_url(), 6379).start()
    app = make_app("health-down", proxy.url_through(redis_url()))
    proxy.cut()
    try:
        with current_app(app):
            report = health_report(ping_timeout=0.3)
    finally:
        close_app(app)
    assert report["healthy"] is False
    assert report["broker"]["reachable"] is False
    assert report["workers"] == []
    assert report["problems"][0].startswith("broker unreachable")


def test_relay_periodic_task_publishes_and_prunes() -> None:
    # No broker needed: the outage is simulated and the relay publishes into the capture.
    with broker_down():
        record.enqueue("periodic-relay")
    with capture_tasks() as captured:
        outcome = relay_outbox.apply(ignore_result=True).get()
    assert outcome == {"published": 1, "pruned": 0}
    assert captured.names == [record.name]
