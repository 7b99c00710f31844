"""Failure windows with a real worker: SIGKILL mid-task, retries, dead letters, unique
locks of dead workers. Each test proves one window deterministically: a gated task
(``tests.gates``) waits mid-run until the test has killed, checked or duplicated it."""

from __future__ import annotations

import time

from celery import states
from django.db import transaction

from nexus_tasks._dispatch import send_now
from nexus_tasks._message import Message
from nexus_tasks._store import get_store
from nexus_tasks._task import unique_lock_key
from nexus_tasks.models import DeadLetter

from tests.conftest import wait_for
from tests.gates import Gate
from tests.models import Event
from tests.tasks import (
    flaky,
    flaky_observed,
    held,
    idempotent_held,
    idempotent_record,
    record,
    unique_held,
    unique_record,
    unique_revocable,
)


def kinds(tag: str) -> list[str]:
    return sorted(Event.objects.filter(tag=tag).values_list("kind", flat=True))


def test_sigkill_mid_task_redelivers_the_message(worker, gate: Gate) -> None:
    tag = gate.tag
    result = held.enqueue(tag)
    wait_for(lambda: gate.runs() == 1)
    worker.kill()
    worker.ensure()
    wait_for(lambda: gate.runs() == 2, timeout=40)  # delivered again
    gate.open()
    assert result.get(timeout=20) == tag
    # Started twice (killed once), finished once: the message was not lost with the worker.
    assert kinds(tag) == ["ran", "started", "started"]


def test_idempotent_body_side_effect_happens_exactly_once_across_sigkill(worker, gate: Gate) -> None:
    tag = gate.tag
    result = idempotent_held.enqueue(tag)
    wait_for(lambda: gate.runs() == 1)
    worker.kill()
    worker.ensure()
    wait_for(lambda: gate.runs() == 2, timeout=40)
    gate.open()
    assert result.get(timeout=20) == tag
    # The killed run's write died with its transaction; the redelivered run wrote once.
    assert kinds(tag) == ["ran"]


def test_redelivery_of_a_completed_idempotent_message_does_not_run_the_body(
    worker, unique_namespace: str
) -> None:
    """The worker finished the body but its ack was lost: the broker delivers the same
    message (same id) again. Sending it a second time is that redelivery."""
    tag = unique_namespace
    result = idempotent_record.enqueue(tag)
    assert result.get(timeout=20) == tag
    send_now(
        Message(
            idempotent_record.name,
            result.id,
            [tag],
            {},
            {"headers": {"nexus": {"using": "default"}}},
        )
    )
    marker = record.enqueue(f"{tag}-after")
    marker.get(timeout=20)  # the worker consumes in order: the redelivery was handled
    assert kinds(tag) == ["ran"]


def test_retries_back_off_report_retry_and_then_succeed(worker, unique_namespace: str) -> None:
    tag = unique_namespace
    result = flaky_observed.enqueue(tag, 2)
    assert result.get(timeout=30) == "ok"
    # What the result backend said as each attempt began: nothing before the first, then
    # RETRY (never SUCCESS) while a retry was waiting.
    assert kinds(tag) == ["attempt 0: PENDING", "attempt 1: RETRY", "attempt 2: RETRY"]
    assert result.state == states.SUCCESS


def test_exhausted_retries_fail_and_dead_letter(worker, unique_namespace: str) -> None:
    tag = unique_namespace
    result = flaky.enqueue(tag, 10)
    wait_for(lambda: result.state == states.FAILURE, timeout=30)
    assert kinds(tag).count("attempt") == 4  # the first run and max_retries=3 retries
    [letter] = DeadLetter.objects.filter(task_id=result.id)
    assert letter.reason == "max_retries"
    assert "Flaky" in letter.error


def test_unique_lock_of_a_killed_worker_clears_within_its_ttl(worker, gate: Gate) -> None:
    tag = gate.tag
    first = unique_held.enqueue(tag)
    wait_for(lambda: gate.runs() == 1)
    assert unique_held.enqueue(tag).id == first.id  # duplicate while running: same id
    worker.kill()
    key = unique_lock_key(unique_held.name, [tag], {}, None)
    killed_at = time.monotonic()
    wait_for(lambda: get_store().get(key, "default") is None, timeout=10)
    assert time.monotonic() - killed_at <= 3 + 1  # unique_ttl=3 (renewal stopped with the worker)
    # The orphaned lock is gone, so a new enqueue is a new task.
    with transaction.atomic():
        second = unique_held.enqueue(tag)
    assert second.id != first.id


def test_unique_task_duplicate_returns_first_id_and_lock_is_released_on_success(
    worker, unique_namespace: str
) -> None:
    tag = unique_namespace
    with transaction.atomic():
        first = unique_record.enqueue(tag)
        again = unique_record.enqueue(tag)
    assert again.id == first.id
    assert first.get(timeout=20) == tag
    assert kinds(tag) == ["ran"]  # sent once
    third = unique_record.enqueue(tag)  # released on success: a new task
    assert third.id != first.id
    third.get(timeout=20)


def test_unique_lock_is_renewed_while_a_long_task_runs(worker, gate: Gate) -> None:
    tag = gate.tag
    first = unique_held.enqueue(tag)
    wait_for(lambda: gate.runs() == 1)
    time.sleep(3.5)  # longer than unique_ttl=3: only the renewal can have kept the lock
    assert unique_held.enqueue(tag).id == first.id
    gate.open()
    assert first.get(timeout=20) == tag


def test_revoked_unique_task_releases_its_lock(worker, unique_namespace: str) -> None:
    tag = unique_namespace
    key = unique_lock_key(unique_revocable.name, [tag], {}, None)  # unique_ttl=60
    with transaction.atomic():
        first = unique_revocable.enqueue(tag)  # its id is known before it is sent
        assert get_store().get(key, "default") == first.id
        # The worker confirms the revoke before the message exists: it discards the
        # message on arrival, whenever that is (no race with a countdown).
        replies = worker.app.control.revoke(
            first.id, destination=[worker.hostname], reply=True, limit=1, timeout=20
        )
        assert replies
    wait_for(lambda: get_store().get(key, "default") is None, timeout=20)
    record.enqueue(f"{tag}-after").get(timeout=20)
    assert kinds(tag) == []  # never ran


def test_unique_task_sent_without_enqueue_takes_the_lock_or_skips(worker, unique_namespace: str) -> None:
    """delay()/beat bypass enqueue(): the worker takes the lock itself, and a message of
    the same work that arrives while another holds the lock does not run."""
    tag = unique_namespace
    key = unique_lock_key(unique_record.name, [tag], {}, None)
    store = get_store()
    assert store.acquire(key, "someone-else", "someone-else", 30, "default") is None
    skipped = unique_record.delay(tag)
    record.enqueue(f"{tag}-after").get(timeout=20)
    assert kinds(tag) == []  # held by another: not run
    assert store.release(key, "someone-else", "default")
    ran = unique_record.delay(tag)
    assert ran.get(timeout=20) == tag  # free: the worker took the lock, ran, released it
    assert kinds(tag) == ["ran"]
    assert store.get(key, "default") is None
    assert skipped.state != "SUCCESS"


def test_a_message_that_keeps_killing_workers_is_dead_lettered(worker, gate: Gate) -> None:
    """Poison message: after MAX_DELIVERIES deliveries (here: the counter says this is the
    fifth) it is dead-lettered and acknowledged instead of crashing another worker."""
    tag = gate.tag
    result = held.enqueue(tag)
    wait_for(lambda: gate.runs() == 1)
    get_store().put(f"deliveries:{result.id}", "4", 600, "default")  # four deaths so far
    worker.kill()
    worker.ensure()
    letter = wait_for(lambda: DeadLetter.objects.filter(task_id=result.id).first(), timeout=40)
    assert letter.reason == "worker_lost"
    assert "delivered 5 times" in letter.error
    assert kinds(tag) == ["started"]  # not run again


def test_hard_time_limit_kill_releases_the_unique_lock(prefork_worker, gate: Gate) -> None:
    from tests.celery_app import NAMESPACE
    from tests.tasks import unique_overrunning

    tag = gate.tag
    result = unique_overrunning.enqueue(tag, queue=f"{NAMESPACE}.prefork")
    key = unique_lock_key(unique_overrunning.name, [tag], {}, None)
    wait_for(lambda: gate.runs() == 1)
    started = time.monotonic()
    wait_for(lambda: get_store().get(key, "default") is None, timeout=20)
    assert time.monotonic() - started < 15  # the kill released it, not the 60 s TTL
    assert result.state == states.FAILURE
