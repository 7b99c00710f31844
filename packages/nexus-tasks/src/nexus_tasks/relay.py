"""The outbox relay: publishes committed outbox rows that were not sent at commit time.

Each round claims a batch in a short transaction (``SELECT … FOR UPDATE SKIP LOCKED`` where
the database has it, so several relays split the backlog instead of sending it twice),
publishes the batch on one broker connection, and marks what was sent. A row whose publish
fails gets a backed-off ``next_attempt_at``; a row claimed by a relay that died is claimed
again once its ``claimed_until`` has passed. SQLite has no row locks: run one relay there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import random
import threading
import time
from typing import Any

from celery import current_app
from django.db import connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from nexus_tasks import _dispatch
from nexus_tasks._dispatch import _intercepted, eager_app, reset_breaker, run_eagerly, send_now
from nexus_tasks._log import log_event
from nexus_tasks._message import Message
from nexus_tasks.conf import get_settings


@dataclasses.dataclass
class RelayRound:
    claimed: int = 0
    published: int = 0
    failed: int = 0
    pruned: int = 0


def _claim(using: str, batch_size: int) -> list[tuple[int, str, str, str, int]]:
    from nexus_tasks.models import OutboxMessage

    now = timezone.now()
    claim_until = now + datetime.timedelta(seconds=get_settings().OUTBOX_CLAIM_TIMEOUT)
    rows = OutboxMessage.objects.using(using)
    pending = (
        rows.filter(sent_at__isnull=True, next_attempt_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("id")
    )
    fields = ("id", "task_id", "task_name", "payload", "attempts")
    if connections[using].features.has_select_for_update_skip_locked:
        # Rows another relay has locked are skipped, not waited for: relays split the work.
        with transaction.atomic(using=using):
            claimed = list(pending.select_for_update(skip_locked=True).values_list(*fields)[:batch_size])
            if claimed:
                rows.filter(id__in=[r[0] for r in claimed]).update(claimed_until=claim_until)
        return claimed
    # No row locks (SQLite): claim with one UPDATE, which takes the write lock at once (a
    # read-then-write transaction would fail to upgrade while a worker writes), then read
    # back what this claim marked. One relay at a time on such databases.
    ids = list(pending.values_list("id", flat=True)[:batch_size])
    if not ids:
        return []
    rows.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now), id__in=ids, sent_at__isnull=True
    ).update(claimed_until=claim_until)
    return list(rows.filter(id__in=ids, claimed_until=claim_until).order_by("id").values_list(*fields))


def _backoff(attempts: int) -> float:
    cap = get_settings().RELAY_BACKOFF_MAX
    return random.uniform(0, min(cap, 2.0 ** min(attempts, 30)))


def relay_once(using: str = "default", batch_size: int | None = None) -> RelayRound:
    """Claim and publish one batch; returns what happened."""
    from nexus_tasks.models import OutboxMessage

    result = RelayRound()
    rows = _claim(using, batch_size or get_settings().OUTBOX_BATCH_SIZE)
    result.claimed = len(rows)
    if not rows:
        return result
    eager = eager_app()
    if eager is not None:
        result.published = _run_here(using, rows, eager)
        return result
    sent: list[int] = []
    failed: list[tuple[int, str, str, int, str]] = []
    app: Any = current_app
    try:
        with contextlib.nullcontext() if _dispatch._interceptors else app.producer_or_acquire() as producer:
            taken: list[int] = []
            with _publish_batch(producer, len(rows)):
                for index, (pk, task_id, task_name, payload, attempts) in enumerate(rows):
                    try:
                        message = Message.decode(task_name, task_id, payload)
                        if not _intercepted(message):
                            send_now(message, producer=producer)
                    except Exception as exc:
                        # The broker is failing: do not hammer it with the rest of the batch.
                        failed.append((pk, task_id, task_name, attempts, repr(exc)))
                        failed.extend(
                            (r[0], r[1], r[2], r[4], "not attempted: broker failing")
                            for r in rows[index + 1 :]
                        )
                        break
                    taken.append(pk)
            # Only now, after the batch was flushed to the broker, are they sent.
            sent = taken
    except Exception as exc:  # no producer, or the batch's flush failed: none was sent
        done = set(sent)
        failed = [(r[0], r[1], r[2], r[4], repr(exc)) for r in rows if r[0] not in done]
    now = timezone.now()
    if sent:
        reset_breaker()
        OutboxMessage.objects.using(using).filter(id__in=sent).update(sent_at=now, claimed_until=None)
    for pk, task_id, task_name, attempts, error in failed:
        OutboxMessage.objects.using(using).filter(id=pk).update(
            claimed_until=None,
            attempts=F("attempts") + 1,
            last_error=error[:2000],
            next_attempt_at=now + datetime.timedelta(seconds=_backoff(attempts)),
        )
        log_event("outbox.retry_later", task_name, task_id, level=30, attempts=attempts + 1, error=error)
    result.published = len(sent)
    result.failed = len(failed)
    return result


def _publish_batch(producer: Any, messages: int) -> contextlib.AbstractContextManager[Any]:
    """Where the transport can (kombu >= 5.7 on Redis: one pipeline), buffer the batch's
    publishes and send them in one round trip when the block ends; elsewhere each publish
    goes out at once. Sized so that nothing is flushed before the end: a flush that fails
    then means that none of the batch was sent, and all of it is retried."""
    batch = getattr(producer, "batch", None)
    if producer is None or batch is None:
        return contextlib.nullcontext()
    # A message is at most one LPUSH plus one PEXPIRE per priority level of its queue.
    return batch(max_size=max(1000, messages * 16))  # type: ignore[no-any-return]


def _run_here(using: str, rows: list[tuple[int, str, str, str, int]], app: Any) -> int:
    """Eager mode (``task_always_eager``): run each claimed row in this process, as
    ``drain_outbox()`` in a project's eager tests expects (a capture hook still comes first).

    A row is marked sent before it runs: the run is its delivery, even if the task raises.
    A task that raises (``task_eager_propagates``) ends the batch; the rows after it are
    handed back unclaimed for the next round rather than left claimed for a minute.
    """
    from nexus_tasks.models import OutboxMessage

    outbox = OutboxMessage.objects.using(using)
    done = 0
    try:
        for pk, task_id, task_name, payload, _attempts in rows:
            message = Message.decode(task_name, task_id, payload)
            outbox.filter(id=pk).update(sent_at=timezone.now(), claimed_until=None)
            done += 1
            if not _intercepted(message):
                run_eagerly(message, app)
    finally:
        rest = [row[0] for row in rows[done:]]
        if rest:
            outbox.filter(id__in=rest).update(claimed_until=None)
    return done


def prune(using: str = "default") -> int:
    """Delete sent rows older than ``OUTBOX_RETENTION`` (returns how many), and expired
    entries of the database store."""
    from nexus_tasks.models import OutboxMessage

    cutoff = timezone.now() - datetime.timedelta(seconds=get_settings().OUTBOX_RETENTION)
    deleted, _ = OutboxMessage.objects.using(using).filter(sent_at__lt=cutoff).delete()
    prune_store(using)
    return deleted


def prune_store(using: str = "default") -> int:
    """Delete expired rows of the database store (idempotency and task records, locks of
    dead workers): they already count as absent, but nothing else removes them, and one
    record is written per idempotent or owned message. Redis expires its keys itself."""
    if get_settings().STORE != "database":
        return 0
    from nexus_tasks.models import StoreEntry

    deleted, _ = StoreEntry.objects.using(using).filter(expires_at__lt=timezone.now()).delete()
    return deleted


def drain(using: str = "default", *, max_rounds: int = 10_000) -> int:
    """Publish everything pending now (rows waiting for a backoff included); returns how
    many were published. Stops when a round publishes nothing."""
    from nexus_tasks.models import OutboxMessage

    OutboxMessage.objects.using(using).filter(sent_at__isnull=True, claimed_until__isnull=True).update(
        next_attempt_at=timezone.now()
    )
    total = 0
    for _ in range(max_rounds):
        step = relay_once(using)
        total += step.published
        if step.published == 0:
            break
    return total


def run(
    using: str = "default", *, stop: threading.Event | None = None, interval: float | None = None
) -> RelayRound:
    """The long-running relay loop; returns the totals when ``stop`` is set."""
    stop = stop or threading.Event()
    interval = get_settings().RELAY_INTERVAL if interval is None else interval
    totals = RelayRound()
    last_prune = 0.0
    try:
        _loop(using, stop, interval, totals, last_prune)
    finally:
        # The loop usually owns its thread or process: leave no connection behind.
        connections[using].close()
    return totals


def _loop(using: str, stop: threading.Event, interval: float, totals: RelayRound, last_prune: float) -> None:
    while not stop.is_set():
        try:
            step = relay_once(using)
        except Exception as exc:  # the database went away: wait and try again
            log_event("relay.error", "-", "-", level=40, error=repr(exc))
            connections[using].close()
            stop.wait(interval)
            continue
        totals.claimed += step.claimed
        totals.published += step.published
        totals.failed += step.failed
        if time.monotonic() - last_prune > 300:
            totals.pruned += prune(using)
            last_prune = time.monotonic()
        if step.claimed == 0 or step.failed:
            stop.wait(interval)
