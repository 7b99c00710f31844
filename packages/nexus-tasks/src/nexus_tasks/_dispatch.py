"""Getting a message from ``enqueue()`` to the broker: after commit, bounded in time, and
through the outbox when asked or when the broker is down.

Failure windows and what closes them:

* the transaction rolls back → the on-commit callback is discarded (and so is the outbox
  row, which was part of the transaction);
* the broker is down at commit → the publish gives up after ``PUBLISH_TIMEOUT`` and the
  message is written to the outbox, which the relay publishes later;
* the process dies between commit and publish → only the outbox survives that: use
  ``durable=True`` (or ``DISPATCH = "outbox"``) for work that must not be lost.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from celery import current_app
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from nexus_tasks._log import log_event
from nexus_tasks._message import Message
from nexus_tasks.conf import get_settings
from nexus_tasks.exceptions import TaskPublishError

_executor_lock = threading.Lock()
_executor: concurrent.futures.ThreadPoolExecutor | None = None

#: Hooks of ``nexus_tasks.testing``: while set, messages are handed to it instead of the broker.
_interceptors: list[Callable[[Message], bool]] = []


def _get_executor() -> concurrent.futures.ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=8, thread_name_prefix="nexus-publish"
            )
        return _executor


def send_now(message: Message, producer: Any = None) -> None:
    """Publish without a time bound (the relay's own loop, and the bounded wrapper)."""
    options = dict(message.options)
    current_app.send_task(
        message.task_name,
        args=message.args,
        kwargs=message.kwargs,
        task_id=message.task_id,
        retry=False,
        producer=producer,
        **options,
    )


def publish(message: Message, timeout: float | None = None) -> None:
    """Publish ``message``, giving up after ``timeout`` seconds (``PUBLISH_TIMEOUT``).

    The publish runs on a helper thread so that the bound holds whatever the transport
    does (connection retries, a half-open socket): a dead broker costs the caller at most
    ``timeout``. A publish that times out may still complete later; the message id is fixed,
    so an idempotent task runs once even if the relay sends it again.
    """
    for hook in _interceptors:
        if hook(message):
            return
    timeout = get_settings().PUBLISH_TIMEOUT if timeout is None else timeout
    started = time.monotonic()
    future = _get_executor().submit(send_now, message)
    try:
        future.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        raise TaskPublishError(
            f"The broker did not accept task {message.task_name}[{message.task_id}] within {timeout}s."
        ) from None
    except Exception as exc:
        raise TaskPublishError(
            f"Publishing task {message.task_name}[{message.task_id}] failed: {exc!r}."
        ) from exc
    log_event(
        "enqueue",
        message.task_name,
        message.task_id,
        publish_ms=round((time.monotonic() - started) * 1000, 2),
    )


def write_outbox(message: Message, *, claimed: bool) -> tuple[int, datetime.datetime | None]:
    """Insert the outbox row: one INSERT, in whatever transaction is open on ``using``.

    ``claimed`` rows belong to the committing process for ``OUTBOX_CLAIM_TIMEOUT`` so that a
    relay does not publish them a second time while that process publishes them.
    """
    from nexus_tasks.models import OutboxMessage

    now = timezone.now()
    claimed_until = now + datetime.timedelta(seconds=get_settings().OUTBOX_CLAIM_TIMEOUT) if claimed else None
    row = OutboxMessage(
        task_id=message.task_id,
        task_name=message.task_name,
        payload=message.encode(),
        created_at=now,
        next_attempt_at=now,
        claimed_until=claimed_until,
    )
    row.save(using=message.using, force_insert=True)
    return row.pk, claimed_until


def publish_outbox_row(pk: int, message: Message, claimed_until: datetime.datetime | None) -> bool:
    """Publish a committed outbox row at once; on failure leave it to the relay."""
    from nexus_tasks.models import OutboxMessage

    rows = OutboxMessage.objects.using(message.using)
    now = timezone.now()
    margin = datetime.timedelta(seconds=max(1.0, get_settings().PUBLISH_TIMEOUT * 2))
    if claimed_until is None or now + margin > claimed_until:
        # The claim taken at insert has (nearly) lapsed during a long transaction: take it
        # again, conditionally, so that a relay that already has the row keeps it alone.
        new_claim = now + datetime.timedelta(seconds=get_settings().OUTBOX_CLAIM_TIMEOUT)
        ours = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
        if claimed_until is not None:
            ours |= Q(claimed_until=claimed_until)
        if not rows.filter(ours, pk=pk, sent_at__isnull=True).update(claimed_until=new_claim):
            return False
    try:
        publish(message)
    except TaskPublishError as exc:
        rows.filter(pk=pk).update(
            claimed_until=None, attempts=F("attempts") + 1, last_error=str(exc)[:2000], next_attempt_at=now
        )
        log_event("outbox.deferred", message.task_name, message.task_id, level=30, error=str(exc))
        return False
    rows.filter(pk=pk).update(sent_at=timezone.now(), claimed_until=None)
    return True


def publish_or_fallback(message: Message) -> None:
    """After commit, for non-durable messages: publish, else keep the message in the
    outbox; if even that fails, release what the message held and raise."""
    try:
        publish(message)
        return
    except TaskPublishError as exc:
        error = exc
    try:
        with transaction.atomic(using=message.using):
            write_outbox(message, claimed=False)
    except Exception as exc:
        release_unique(message)
        raise TaskPublishError(
            f"{error} The outbox could not keep it either ({exc!r}); the task is NOT queued. "
            "Check the broker and the database, then enqueue it again."
        ) from exc
    log_event("outbox.fallback", message.task_name, message.task_id, level=30, error=str(error))


def release_unique(message: Message) -> None:
    if message.unique_key is None:
        return
    from nexus_tasks._store import get_store

    try:
        get_store().release(message.unique_key, message.task_id, message.using)
    except Exception:  # pragma: no cover - the lock expires after its TTL anyway
        log_event("unique.release_failed", message.task_name, message.task_id, level=30)


class _Callback:
    """The on-commit callable. When the transaction (or savepoint) rolls back, Django drops
    it without calling it; a finalizer then releases the Redis unique lock it reserved
    (a database-store lock vanished with the rollback already)."""

    __slots__ = ("__weakref__", "fn", "state")

    def __init__(self, fn: Callable[[], None], state: dict[str, bool]) -> None:
        self.fn = fn
        self.state = state

    def __call__(self) -> None:
        self.state["called"] = True
        self.fn()


def _released_if_dropped(state: dict[str, bool], message: Message) -> None:
    if not state["called"]:
        release_unique(message)
        log_event("enqueue.rolled_back", message.task_name, message.task_id)


def schedule(message: Message, *, durable: bool, release_on_rollback: bool) -> None:
    """Arrange for ``message`` to be published when the transaction on ``using`` commits
    (at once outside a transaction)."""
    if durable:
        pk, claimed_until = write_outbox(message, claimed=True)

        def fn() -> None:
            publish_outbox_row(pk, message, claimed_until)
    else:

        def fn() -> None:
            publish_or_fallback(message)

    state = {"called": False}
    callback = _Callback(fn, state)
    if release_on_rollback and message.unique_key is not None:
        weakref.finalize(callback, _released_if_dropped, state, message)
    transaction.on_commit(callback, using=message.using)
