"""The transactional outbox with real brokers, a real worker and broker outages."""

from __future__ import annotations

import time

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from nexus_tasks import relay
from nexus_tasks.models import OutboxMessage
from nexus_testing import rabbitmq_url, redis_url

from tests.celery_app import make_app
from tests.conftest import close_app, current_app, wait_for
from tests.models import Event
from tests.tasks import record


def test_durable_enqueue_adds_one_insert_and_is_published_after_commit(worker, unique_namespace: str) -> None:
    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries:
            result = record.enqueue(unique_namespace, durable=True)
        assert len(queries) == 1
        assert queries[0]["sql"].lstrip().upper().startswith("INSERT")
        row = OutboxMessage.objects.get(task_id=result.id)
        assert row.sent_at is None
        time.sleep(0.3)
        assert not Event.objects.filter(tag=unique_namespace).exists()
    assert result.get(timeout=15) == unique_namespace
    row.refresh_from_db()
    assert row.sent_at is not None
    assert Event.objects.filter(tag=unique_namespace).count() == 1


def test_rolled_back_durable_enqueue_leaves_no_row(
    transactional_db, redis_broker: str, unique_namespace: str
) -> None:
    try:
        with transaction.atomic():
            result = record.enqueue(unique_namespace, durable=True)
            raise RuntimeError
    except RuntimeError:
        pass
    assert not OutboxMessage.objects.filter(task_id=result.id).exists()


@pytest.fixture
def proxied_app(broker: str, tcp_proxy):  # type: ignore[no-untyped-def]
    """The broker's app, but publishing through a proxy the test can cut."""
    url = redis_url() if broker == "redis" else rabbitmq_url()
    proxy = tcp_proxy.for_url(url, 6379 if broker == "redis" else 5672).start()
    app = make_app(f"proxied-{broker}", proxy.url_through(url))
    with current_app(app):
        yield proxy
    close_app(app)


def test_broker_down_at_commit_loses_none_of_1000_outbox_messages(
    worker, proxied_app, unique_namespace: str, settings
) -> None:
    settings.NEXUS_TASKS = {**settings.NEXUS_TASKS, "PUBLISH_TIMEOUT": 0.5}
    proxied_app.cut()
    started = time.monotonic()
    with transaction.atomic():
        ids = [record.enqueue(unique_namespace, str(i), durable=True).id for i in range(1000)]
    elapsed = time.monotonic() - started
    assert OutboxMessage.objects.filter(sent_at__isnull=True).count() == 1000
    assert not Event.objects.filter(tag=unique_namespace).exists()
    proxied_app.restore()
    # The first publish was stuck in the transport's reconnect loop when the commit gave
    # up on it: its row stays claimed by that publish, which completes after the restore;
    # the relay sends every other row.
    published = relay.drain()
    assert published >= 999
    wait_for(lambda: OutboxMessage.objects.filter(sent_at__isnull=True).count() == 0, timeout=30)
    wait_for(lambda: Event.objects.filter(tag=unique_namespace).count() >= 1000, timeout=120, interval=0.25)
    time.sleep(0.5)
    kinds = list(Event.objects.filter(tag=unique_namespace).values_list("kind", flat=True))
    assert sorted(kinds, key=int) == [str(i) for i in range(1000)]  # each exactly once
    assert OutboxMessage.objects.filter(task_id__in=ids, sent_at__isnull=False).count() == 1000
    assert elapsed < 60


def test_on_commit_publish_falls_back_to_the_outbox_within_the_timeout(
    worker, proxied_app, unique_namespace: str, settings
) -> None:
    settings.NEXUS_TASKS = {**settings.NEXUS_TASKS, "PUBLISH_TIMEOUT": 0.5}
    proxied_app.cut()
    started = time.monotonic()
    with transaction.atomic():
        result = record.enqueue(unique_namespace)
    # A dead broker costs the request about PUBLISH_TIMEOUT (plus the outbox INSERT and, on a
    # loaded 2-core CI machine, scheduling delay); unbounded, kombu's reconnect loop would
    # hold it for tens of seconds.
    assert time.monotonic() - started < 3.5
    row = OutboxMessage.objects.get(task_id=result.id)
    assert row.sent_at is None
    proxied_app.restore()
    # Either the relay sends it, or the publish that was still reconnecting does (it kept
    # the row claimed); never both.
    relay.drain()
    wait_for(lambda: OutboxMessage.objects.filter(task_id=result.id, sent_at__isnull=False).exists())
    wait_for(lambda: Event.objects.filter(tag=unique_namespace).exists())
    time.sleep(0.3)
    assert Event.objects.filter(tag=unique_namespace).count() == 1
