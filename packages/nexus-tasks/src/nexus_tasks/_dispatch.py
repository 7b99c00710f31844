"""Getting a message from ``enqueue()`` to the broker: after commit, bounded in time, and
through the outbox when asked or when the broker is down.

Failure windows and what closes them:

* the transaction rolls back → the on-commit callback is discarded (and so is the outbox
  row, which was part of the transaction);
* the broker is down at commit → the publish gives up after ``PUBLISH_TIMEOUT`` and the
  message is kept in the outbox, which the relay publishes later;
* a publish is stuck in the transport's reconnect loop when the caller gives up → the
  outbox row stays *claimed* by that publish, and whichever way the publish ends, its own
  thread marks the row sent or hands it to the relay; the relay never sends a row that a
  live publish may still send;
* the process dies between commit and publish → only the outbox survives that: use
  ``durable=True`` (or ``DISPATCH = "outbox"``) for work that must not be lost.

Under Celery's ``task_always_eager`` the task runs in this process at the moment it would
have been published (at commit, never after a rollback), the way ``apply_async`` runs it
eagerly: projects whose tests run Celery eagerly see nexus-tasks' tasks run too.
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
from celery.result import EagerResult, denied_join_result
from django.db import connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from nexus_tasks._log import log_event
from nexus_tasks._message import Message, dumps, loads
from nexus_tasks.conf import get_settings
from nexus_tasks.exceptions import TaskPublishError

_executor_lock = threading.Lock()
_executor: concurrent.futures.ThreadPoolExecutor | None = None

#: Monotonic time until which the broker counts as down (a circuit breaker): after one
#: publish failed, the next ones go straight to the outbox instead of each waiting out
#: ``PUBLISH_TIMEOUT``, so a commit with many messages still costs about one timeout.
_broker_down_until = 0.0

#: Hooks of ``nexus_tasks.testing``: while set, messages are handed to them instead of the
#: broker (a hook returns True when it took the message).
_interceptors: list[Callable[[Message], bool]] = []


def _get_executor() -> concurrent.futures.ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=8, thread_name_prefix="nexus-publish"
            )
        return _executor


def reset_breaker() -> None:
    """Forget a recorded broker failure (the relay calls it after a successful publish)."""
    global _broker_down_until
    _broker_down_until = 0.0


def _trip_breaker() -> None:
    global _broker_down_until
    _broker_down_until = time.monotonic() + get_settings().PUBLISH_BREAKER_SECONDS


def send_now(message: Message, producer: Any = None, app: Any = None) -> None:
    """Publish without a time bound (the relay's loop, and the bounded publish's thread).

    This is ``app.send_task`` minus its result-backend subscription: the Redis result
    backend subscribes to every task id sent (one more round trip and a pub/sub
    connection per publishing thread), which a relay sending thousands of messages, or a
    web process that never waits for results, does not need. ``AsyncResult.get()`` still
    works: it reads the stored state before it waits.
    """
    app = app or current_app
    amqp = app.amqp
    options = dict(message.options)
    task_type = app._tasks.get(message.task_name)
    if task_type is not None:
        defaults = {k: v for k, v in task_type._get_exec_options().items() if v is not None}
        options = {**defaults, **options}
    countdown = options.pop("countdown", None)
    eta = options.pop("eta", None)
    expires = options.pop("expires", None)
    time_limit = options.pop("time_limit", None)
    soft_time_limit = options.pop("soft_time_limit", None)
    options.pop("ignore_result", None)
    options = amqp.router.route(options, message.task_name, message.args, message.kwargs, task_type)
    if expires is not None:
        if isinstance(expires, datetime.datetime):
            options["expiration"] = max(0.0, (expires - timezone.now()).total_seconds())
        else:
            options["expiration"] = expires
    task_message = amqp.create_task_message(
        message.task_id,
        message.task_name,
        message.args,
        message.kwargs,
        countdown,
        eta,
        None,
        None,
        expires,
        0,
        None,
        None,
        None,
        app.thread_oid,
        time_limit,
        soft_time_limit,
        app.conf.task_send_sent_event,
        None,
        None,
        None,
        None,
        **options,
    )
    with app.producer_or_acquire(producer) as active:
        amqp.send_task_message(active, message.task_name, task_message, retry=False, **options)


def eager_app() -> Any | None:
    """The current Celery app if it runs tasks eagerly (``task_always_eager``), else None.

    Read at the moment of publishing, not at import, so that a project's test settings
    (``CELERY_TASK_ALWAYS_EAGER``) and a test that switches the app's setting both count.
    """
    app = current_app._get_current_object()
    return app if app.conf.task_always_eager else None


def run_eagerly(message: Message, app: Any) -> EagerResult:
    """Run ``message`` in this process, as Celery's ``apply_async`` does when eager.

    The arguments go through the message encoding first, so the body sees what a worker
    would (lists for tuples, kombu's tagged types); the task id and the ``nexus`` header
    are the message's, so unique locks, idempotency and ``using`` behave as on a worker.
    Celery's own settings apply: ``task_eager_propagates`` raises the task's final
    exception here (after its retries, which run at once as Celery's eager retries do),
    ``task_store_eager_result`` stores the result in the result backend.
    """
    task = app.tasks[message.task_name]
    args, kwargs = loads(dumps([message.args, message.kwargs]))
    options = dict(message.options)
    headers = options.pop("headers", None)
    log_event("enqueue", message.task_name, message.task_id, eager=True)
    with denied_join_result():
        # throw=False: the retries play out first (see NexusTask.retry_later); the final
        # failure is stored and handled like a worker's, then raised here if asked.
        result: EagerResult = task.apply(
            args, kwargs, task_id=message.task_id, headers=headers, throw=False, **options
        )
    if result.failed() and app.conf.task_eager_propagates:
        raise result.result
    return result


def _run_locally(message: Message) -> tuple[bool, EagerResult | None]:
    """Hand ``message`` to a capture hook or run it eagerly, if either applies.

    ``(True, result)`` when it was taken here (``result`` is the eager run's, or None for a
    capture hook); ``(False, None)`` when it must go to the broker. A broker made "down" by
    ``nexus_tasks.testing.broker_down()`` counts even when eager, so that a project's test
    of an outage sees the message wait in the outbox.
    """
    if _intercepted(message):
        return True, None
    if time.monotonic() < _broker_down_until:
        return False, None
    app = eager_app()
    if app is None:
        return False, None
    return True, run_eagerly(message, app)


class _Publication:
    """One publish running on a helper thread, and who settles its outbox row.

    If the caller is still waiting when the publish ends, the caller settles the row. If
    the caller gave up first, it hands the row (``late_row``) to the publication, and the
    helper thread settles it when the publish finally ends, one way or the other.
    """

    def __init__(self, message: Message) -> None:
        self.message = message
        self.lock = threading.Lock()
        self.done = False
        self.error: BaseException | None = None
        self.late_row: int | None = None
        self.finished = threading.Event()

    def __repr__(self) -> str:  # logged as the reason of an outbox fallback
        return "the publish was still running when PUBLISH_TIMEOUT passed"


def _run(publication: _Publication, app: Any) -> None:
    error: BaseException | None = None
    try:
        send_now(publication.message, app=app)
    except BaseException as exc:
        error = exc
    with publication.lock:
        publication.done = True
        publication.error = error
        late_row = publication.late_row
    publication.finished.set()
    if late_row is not None:
        using = publication.message.using
        try:
            _settle(late_row, publication.message, error)
        finally:
            connections[using].close()


def _settle(pk: int, message: Message, error: BaseException | None) -> None:
    """Mark an outbox row sent, or release it to the relay with the error."""
    from nexus_tasks.models import OutboxMessage

    rows = OutboxMessage.objects.using(message.using).filter(pk=pk)
    if error is None:
        rows.update(sent_at=timezone.now(), claimed_until=None)
        return
    rows.update(
        claimed_until=None,
        attempts=F("attempts") + 1,
        last_error=repr(error)[:2000],
        next_attempt_at=timezone.now(),
    )
    log_event("outbox.deferred", message.task_name, message.task_id, level=30, error=repr(error))


def _start(message: Message, timeout: float) -> _Publication | BaseException | None:
    """Publish with a bound: ``None`` when sent, the error when it failed, or the
    still-running publication when ``timeout`` passed first."""
    settings = get_settings()
    if time.monotonic() < _broker_down_until:
        return TaskPublishError(
            f"Task {message.task_name}[{message.task_id}] not published: the broker failed "
            f"less than {settings.PUBLISH_BREAKER_SECONDS}s ago."
        )
    started = time.monotonic()
    publication = _Publication(message)
    app = current_app._get_current_object()
    _get_executor().submit(_run, publication, app)
    if not publication.finished.wait(timeout):
        _trip_breaker()
        return publication
    if publication.error is not None:
        _trip_breaker()
        return publication.error
    log_event(
        "enqueue",
        message.task_name,
        message.task_id,
        publish_ms=round((time.monotonic() - started) * 1000, 2),
    )
    return None


def _intercepted(message: Message) -> bool:
    return any(hook(message) for hook in _interceptors)


def publish(message: Message, timeout: float | None = None) -> None:
    """Publish now, bounded by ``PUBLISH_TIMEOUT``; raise :class:`TaskPublishError` if the
    broker did not take it (it may still take it later if the publish was stuck)."""
    if _intercepted(message):
        return
    outcome = _start(message, get_settings().PUBLISH_TIMEOUT if timeout is None else timeout)
    if outcome is None:
        return
    if isinstance(outcome, _Publication):
        raise TaskPublishError(
            f"The broker did not accept task {message.task_name}[{message.task_id}] in time."
        )
    raise TaskPublishError(f"Publishing task {message.task_name}[{message.task_id}] failed: {outcome!r}.")


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


def _hand_over(publication: _Publication, pk: int) -> None:
    """The caller stops waiting: the publication's thread settles row ``pk`` — unless it
    finished in between, in which case the caller settles it now."""
    with publication.lock:
        if not publication.done:
            publication.late_row = pk
            return
        error = publication.error
    _settle(pk, publication.message, error)


def publish_outbox_row(
    pk: int, message: Message, claimed_until: datetime.datetime | None
) -> EagerResult | None:
    """Publish a committed outbox row at once; on failure leave it to the relay.

    Returns the eager run's result when the task ran in this process (eager mode)."""
    from nexus_tasks.models import OutboxMessage

    settings = get_settings()
    now = timezone.now()
    margin = datetime.timedelta(seconds=max(1.0, settings.PUBLISH_TIMEOUT * 2))
    if claimed_until is None or now + margin > claimed_until:
        # The claim taken at insert has (nearly) lapsed during a long transaction: take it
        # again, conditionally, so that a relay that already has the row keeps it alone.
        new_claim = now + datetime.timedelta(seconds=settings.OUTBOX_CLAIM_TIMEOUT)
        ours = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
        if claimed_until is not None:
            ours |= Q(claimed_until=claimed_until)
        rows = OutboxMessage.objects.using(message.using)
        if not rows.filter(ours, pk=pk, sent_at__isnull=True).update(claimed_until=new_claim):
            return None
    if _intercepted(message):
        _settle(pk, message, None)
        return None
    app = None if time.monotonic() < _broker_down_until else eager_app()
    if app is not None:
        # Marked sent before it runs: the run is the delivery, even if the task raises.
        _settle(pk, message, None)
        return run_eagerly(message, app)
    outcome = _start(message, settings.PUBLISH_TIMEOUT)
    if isinstance(outcome, _Publication):
        _hand_over(outcome, pk)
        return None
    _settle(pk, message, outcome)
    return None


def publish_or_fallback(message: Message) -> EagerResult | None:
    """After commit, for non-durable messages: publish, else keep the message in the
    outbox; if even that fails, release what the message held and raise.

    Returns the eager run's result when the task ran in this process (eager mode)."""
    taken, result = _run_locally(message)
    if taken:
        return result
    outcome = _start(message, get_settings().PUBLISH_TIMEOUT)
    if outcome is None:
        return None
    stuck = isinstance(outcome, _Publication)
    try:
        with transaction.atomic(using=message.using):
            pk, _ = write_outbox(message, claimed=stuck)
    except Exception as exc:
        if not stuck:
            release_unique(message)
        raise TaskPublishError(
            f"Task {message.task_name}[{message.task_id}] could not be published ({outcome!r}) and the "
            f"outbox could not keep it either ({exc!r}); it is NOT queued. Check the broker and the "
            "database, then enqueue it again."
        ) from exc
    if isinstance(outcome, _Publication):
        _hand_over(outcome, pk)
    log_event("outbox.fallback", message.task_name, message.task_id, level=30, error=repr(outcome))
    return None


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
    (a database-store lock vanished with the rollback already). It keeps the result of an
    eager run so that ``enqueue()`` outside a transaction can return it, as ``apply_async``
    returns an ``EagerResult``."""

    __slots__ = ("__weakref__", "eager_result", "fn", "state")

    def __init__(self, fn: Callable[[], EagerResult | None], state: dict[str, bool]) -> None:
        self.fn = fn
        self.state = state
        self.eager_result: EagerResult | None = None

    def __call__(self) -> None:
        self.state["called"] = True
        self.eager_result = self.fn()


def _released_if_dropped(state: dict[str, bool], message: Message) -> None:
    if not state["called"]:
        release_unique(message)
        log_event("enqueue.rolled_back", message.task_name, message.task_id)


def schedule(message: Message, *, durable: bool, release_on_rollback: bool) -> EagerResult | None:
    """Arrange for ``message`` to be published when the transaction on ``using`` commits
    (at once outside a transaction).

    Returns the ``EagerResult`` when the task already ran here (eager mode, no transaction
    open), else None: the caller then hands out an ``AsyncResult`` for the fixed id."""
    if durable:
        pk, claimed_until = write_outbox(message, claimed=True)

        def fn() -> EagerResult | None:
            return publish_outbox_row(pk, message, claimed_until)
    else:

        def fn() -> EagerResult | None:
            return publish_or_fallback(message)

    state = {"called": False}
    callback = _Callback(fn, state)
    if release_on_rollback and message.unique_key is not None:
        weakref.finalize(callback, _released_if_dropped, state, message)
    transaction.on_commit(callback, using=message.using)
    return callback.eager_result
