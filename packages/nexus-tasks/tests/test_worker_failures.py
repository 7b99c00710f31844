"""Failure windows with a real worker: SIGKILL mid-task, retries, dead letters, unique
locks of dead workers. Each test proves one window deterministically (the test waits for a
marker the task sets before it kills or checks anything)."""

from __future__ import annotations

import time

import redis
from celery import states
from django.db import transaction

from nexus_tasks._dispatch import send_now
from nexus_tasks._message import Message
from nexus_tasks._store import get_store
from nexus_tasks._task import unique_lock_key
from nexus_tasks.models import DeadLetter
from nexus_testing import redis_url

from tests.conftest import wait_for
from tests.models import Event
from tests.tasks import flaky, flaky_slow_backoff, idempotent_marked, marked_slow, record, unique_marked


def running(tag: str) -> bool:
    client = redis.Redis.from_url(redis_url())
    try:
        return bool(client.exists(f"{tag}:running"))
    finally:
        client.close()


def kinds(tag: str) -> list[str]:
    return sorted(Event.objects.filter(tag=tag).values_list("kind", flat=True))


def test_sigkill_mid_task_redelivers_the_message(worker, unique_namespace: str) -> None:
    tag = unique_namespace
    result = marked_slow.enqueue(tag, 2.0)
    wait_for(lambda: running(tag))
    worker.kill()
    worker.ensure()
    assert result.get(timeout=40) == tag
    # Started twice (killed once), finished once: the message was not lost with the worker.
    assert kinds(tag) == ["ran", "started", "started"]


def test_idempotent_body_side_effect_happens_exactly_once_across_sigkill(
    worker, unique_namespace: str
) -> None:
    tag = unique_namespace
    result = idempotent_marked.enqueue(tag, 2.0)
    wait_for(lambda: running(tag))
    worker.kill()
    worker.ensure()
    assert result.get(timeout=40) == tag
    # The killed run's write died with its transaction; the redelivered run wrote once.
    assert kinds(tag) == ["ran"]


def test_redelivery_of_a_completed_idempotent_message_does_not_run_the_body(
    worker, unique_namespace: str
) -> None:
    """The worker finished the body but its ack was lost: the broker delivers the same
    message (same id) again. Sending it a second time is that redelivery."""
    tag = unique_namespace
    result = idempotent_marked.enqueue(tag, 0.0)
    assert result.get(timeout=20) == tag
    send_now(
        Message(
            idempotent_marked.name,
            result.id,
            [tag, 0.0],
            {},
            {"headers": {"nexus": {"using": "default"}}},
        )
    )
    marker = record.enqueue(f"{tag}-after")
    marker.get(timeout=20)
    time.sleep(0.2)
    assert kinds(tag) == ["ran"]


def test_retries_back_off_report_retry_and_then_succeed(worker, unique_namespace: str) -> None:
    tag = unique_namespace
    result = flaky_slow_backoff.enqueue(tag, 1)
    seen: set[str] = set()

    def settled() -> bool:
        state = result.state
        seen.add(state)
        return state == states.SUCCESS

    wait_for(settled, timeout=30, interval=0.005)
    assert states.RETRY in seen  # the retry is reported as RETRY, never as SUCCESS
    assert kinds(tag) == ["attempt", "attempt"]


def test_exhausted_retries_fail_and_dead_letter(worker, unique_namespace: str) -> None:
    tag = unique_namespace
    result = flaky.enqueue(tag, 10)
    wait_for(lambda: result.state == states.FAILURE, timeout=30)
    assert kinds(tag).count("attempt") == 4  # the first run and max_retries=3 retries
    [letter] = DeadLetter.objects.filter(task_id=result.id)
    assert letter.reason == "max_retries"
    assert "Flaky" in letter.error


def test_unique_lock_of_a_killed_worker_clears_within_its_ttl(worker, unique_namespace: str) -> None:
    tag = unique_namespace
    first = unique_marked.enqueue(tag, 2.0)
    wait_for(lambda: running(tag))
    assert unique_marked.enqueue(tag, 2.0).id == first.id  # duplicate while running: same id
    worker.kill()
    key = unique_lock_key(unique_marked.name, [tag, 2.0], {}, None)
    killed_at = time.monotonic()
    wait_for(lambda: get_store().get(key, "default") is None, timeout=10)
    assert time.monotonic() - killed_at <= 3 + 1  # unique_ttl=3 (renewal stopped with the worker)
    # The orphaned lock is gone, so a new enqueue is a new task.
    with transaction.atomic():
        second = unique_marked.enqueue(tag, 2.0)
    assert second.id != first.id


def test_unique_task_duplicate_returns_first_id_and_lock_is_released_on_success(
    worker, unique_namespace: str
) -> None:
    tag = unique_namespace
    with transaction.atomic():
        first = unique_marked.enqueue(tag, 0.5)
        again = unique_marked.enqueue(tag, 0.5)
    assert again.id == first.id
    assert first.get(timeout=20) == tag
    assert kinds(tag) == ["ran", "started"]  # sent once
    third = unique_marked.enqueue(tag, 0.5)  # released on success: a new task
    assert third.id != first.id
    third.get(timeout=20)


def test_unique_lock_is_renewed_while_a_long_task_runs(worker, unique_namespace: str) -> None:
    tag = unique_namespace
    first = unique_marked.enqueue(tag, 5.0)  # runs longer than unique_ttl=3
    wait_for(lambda: running(tag))
    time.sleep(3.5)
    assert unique_marked.enqueue(tag, 5.0).id == first.id
    first.get(timeout=20)


def test_revoked_unique_task_releases_its_lock(worker, unique_namespace: str) -> None:
    from tests.tasks import unique_overrunning  # unique_ttl=60: expiry cannot be what frees it

    tag = unique_namespace
    first = unique_overrunning.enqueue(tag, countdown=1.0)
    key = unique_lock_key(unique_overrunning.name, [tag], {}, None)
    assert get_store().get(key, "default") == first.id
    worker.app.control.revoke(first.id)
    wait_for(lambda: get_store().get(key, "default") is None, timeout=20)
    assert not running(tag)  # never ran


def test_unique_task_sent_without_enqueue_takes_the_lock_or_skips(worker, unique_namespace: str) -> None:
    """delay()/beat bypass enqueue(): the worker takes the lock itself, and a message of
    the same work that arrives while another holds the lock does not run."""
    tag = unique_namespace
    key = unique_lock_key(unique_marked.name, [tag, 0.0], {}, None)
    store = get_store()
    assert store.acquire(key, "someone-else", "someone-else", 30, "default") is None
    skipped = unique_marked.delay(tag, 0.0)
    record.enqueue(f"{tag}-after").get(timeout=20)
    assert kinds(tag) == []  # held by another: not run
    assert store.release(key, "someone-else", "default")
    ran = unique_marked.delay(tag, 0.0)
    assert ran.get(timeout=20) == tag  # free: the worker took the lock, ran, released it
    assert kinds(tag) == ["ran", "started"]
    assert store.get(key, "default") is None
    assert skipped.state != "SUCCESS"


def test_a_message_that_keeps_killing_workers_is_dead_lettered(worker, unique_namespace: str) -> None:
    """Poison message: after MAX_DELIVERIES deliveries (here: the counter says this is the
    fifth) it is dead-lettered and acknowledged instead of crashing another worker."""
    tag = unique_namespace
    result = marked_slow.enqueue(tag, 30.0)
    wait_for(lambda: running(tag))
    get_store().put(f"deliveries:{result.id}", "4", 600, "default")  # four deaths so far
    worker.kill()
    worker.ensure()
    letter = wait_for(lambda: DeadLetter.objects.filter(task_id=result.id).first(), timeout=40)
    assert letter.reason == "worker_lost"
    assert "delivered 5 times" in letter.error
    assert kinds(tag) == ["started"]  # not run again


def test_hard_time_limit_kill_releases_the_unique_lock(prefork_worker, unique_namespace: str) -> None:
    from tests.celery_app import NAMESPACE
    from tests.tasks import unique_overrunning

    tag = unique_namespace
    result = unique_overrunning.enqueue(tag, queue=f"{NAMESPACE}.prefork")
    key = unique_lock_key(unique_overrunning.name, [tag], {}, None)
    wait_for(lambda: running(tag))
    started = time.monotonic()
    wait_for(lambda: get_store().get(key, "default") is None, timeout=20)
    assert time.monotonic() - started < 15  # the kill released it, not the 60 s TTL
    assert result.state == states.FAILURE
