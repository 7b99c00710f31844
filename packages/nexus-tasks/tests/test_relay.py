"""The relay on its own: concurrent relays, stale claims, backoff, pruning, the command."""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from django.db import connection, connections
from django.utils import timezone

from nexus_tasks import _dispatch, relay
from nexus_tasks.models import OutboxMessage
from nexus_tasks.testing import broker_down
from nexus_testing import redis_url

from tests.celery_app import make_app
from tests.conftest import PACKAGE_DIR, close_app, current_app, wait_for
from tests.tasks import record

pytestmark = pytest.mark.django_db(transaction=True)


def park(n: int, tag: str) -> list[str]:
    """Enqueue ``n`` messages while the broker is "down": they wait in the outbox."""
    saved = list(_dispatch._interceptors)
    _dispatch._interceptors.clear()
    try:
        with broker_down():
            return [record.enqueue(tag, str(i)).id for i in range(n)]
    finally:
        _dispatch._interceptors[:] = saved


@pytest.fixture
def sent() -> list[str]:
    ids: list[str] = []
    lock = threading.Lock()

    def hook(message) -> bool:  # type: ignore[no-untyped-def]
        with lock:
            ids.append(message.task_id)
        return True

    _dispatch._interceptors.append(hook)
    yield ids
    _dispatch._interceptors.remove(hook)


@pytest.mark.requires_postgres
def test_concurrent_relays_never_publish_a_row_twice(redis_broker: str, sent: list[str]) -> None:
    ids = park(300, "concurrent")
    barrier = threading.Barrier(3)

    def run() -> None:
        barrier.wait()
        while relay.relay_once(batch_size=20).claimed:
            pass
        connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(sent) == sorted(ids)  # every row once, none twice
    assert not OutboxMessage.objects.filter(sent_at__isnull=True).exists()


def test_stale_claims_are_reclaimed_and_live_ones_left_alone(redis_broker: str, sent: list[str]) -> None:
    stale, live = park(2, "claims")
    now = timezone.now()
    OutboxMessage.objects.filter(task_id=stale).update(claimed_until=now - datetime.timedelta(seconds=1))
    OutboxMessage.objects.filter(task_id=live).update(claimed_until=now + datetime.timedelta(seconds=60))
    assert relay.relay_once().published == 1
    assert sent == [stale]


def test_failed_publishes_back_off_and_keep_the_error(redis_broker: str, tcp_proxy) -> None:  # type: ignore[no-untyped-def]
    [task_id] = park(1, "backoff")
    proxy = tcp_proxy.for_url(redis_url(), 6379).start()
    app = make_app("relay-down", proxy.url_through(redis_url()))
    proxy.cut()
    with current_app(app):
        app.conf.broker_transport_options = {**app.conf.broker_transport_options, "max_retries": 0}
        app.conf.broker_connection_timeout = 0.5
        step = relay.relay_once()
    close_app(app)
    assert (step.claimed, step.published, step.failed) == (1, 0, 1)
    row = OutboxMessage.objects.get(task_id=task_id)
    assert row.attempts == 1
    assert row.claimed_until is None
    assert row.last_error
    assert row.next_attempt_at >= row.created_at


def test_a_batch_whose_flush_fails_stays_pending_whole(redis_broker: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """On Redis (kombu >= 5.7) a batch goes out in one pipeline when it ends: if that flush
    fails, no row of the batch counts as sent, and all of them are retried."""
    from kombu.transport import redis as kombu_redis

    if not hasattr(kombu_redis, "PublishBatch"):
        pytest.skip("kombu < 5.7 publishes each message at once (no batches)")
    ids = park(3, "flush")

    def lost(self: object) -> None:
        raise ConnectionError("connection lost at flush")

    with monkeypatch.context() as patched:
        patched.setattr(kombu_redis.PublishBatch, "flush", lost)
        step = relay.relay_once()
    assert (step.claimed, step.published, step.failed) == (3, 0, 3)
    rows = OutboxMessage.objects.filter(task_id__in=ids, sent_at__isnull=True, claimed_until__isnull=True)
    assert rows.filter(attempts=1, last_error__contains="connection lost at flush").count() == 3
    assert relay.drain() == 3  # the broker is fine again: the whole batch goes out


def test_sent_rows_are_pruned_after_retention(redis_broker: str, sent: list[str], settings) -> None:  # type: ignore[no-untyped-def]
    old, new = park(2, "prune")
    relay.drain()
    OutboxMessage.objects.filter(task_id=old).update(sent_at=timezone.now() - datetime.timedelta(days=30))
    assert relay.prune() == 1
    assert list(OutboxMessage.objects.values_list("task_id", flat=True)) == [new]


def test_run_loop_stops_when_asked(redis_broker: str, sent: list[str]) -> None:
    park(5, "loop")
    stop = threading.Event()
    totals: list[relay.RelayRound] = []
    thread = threading.Thread(target=lambda: totals.append(relay.run(stop=stop, interval=0.05)))
    thread.start()
    wait_for(lambda: len(sent) == 5)
    stop.set()
    thread.join(timeout=10)
    assert totals[0].published == 5


def test_relay_command_publishes_and_exits_cleanly_on_sigterm(redis_worker, unique_namespace: str) -> None:
    ids = park(3, unique_namespace)
    env = dict(os.environ)
    env["NEXUS_TASKS_WORKER_DB"] = connections["default"].settings_dict["NAME"]
    env["NEXUS_TASKS_WORKER_DB_OTHER"] = connections["other"].settings_dict["NAME"]
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    code = (
        "import django; django.setup(); from tests import celery_app; celery_app.redis_app.set_default();"
        "from django.core.management import call_command; call_command('nexus_tasks', 'relay', '--interval', '0.1')"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=PACKAGE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: OutboxMessage.objects.filter(task_id__in=ids, sent_at__isnull=False).count() == 3)
    finally:
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert b"relay stopped: published 3" in out
