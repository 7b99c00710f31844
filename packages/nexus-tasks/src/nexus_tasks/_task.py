"""``@task``: a Celery ``shared_task`` on Django's ``DjangoTask`` with safe defaults, and the
worker-side logic for retries, dead letters, unique locks and idempotency."""

from __future__ import annotations

import datetime
import hashlib
import inspect
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, overload

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from celery.exceptions import Ignore, Retry
from celery.result import AsyncResult
from django.db import DEFAULT_DB_ALIAS, transaction

from nexus_tasks._encoding import canonical_json, validate_arguments
from nexus_tasks._log import log_event
from nexus_tasks._message import Message
from nexus_tasks.conf import get_settings

F = TypeVar("F", bound=Callable[..., Any])

#: ``enqueue()`` keywords that are dispatch options, not task arguments.
DISPATCH_OPTIONS = frozenset({"durable", "using", "countdown", "eta", "queue", "priority"})
#: Options only ``enqueue_with()`` takes (they would shadow too many task parameter names).
EXTRA_OPTIONS = frozenset({"unique_key", "idempotency_key", "owner", "expires", "headers"})

HEADER = "nexus"


def unique_lock_key(
    task_name: str, args: Sequence[Any], kwargs: Mapping[str, Any], explicit: str | None
) -> str:
    """``unique:<task>:<sha256 of canonical JSON of the arguments>`` (or of ``unique_key``)."""
    material = explicit if explicit is not None else canonical_json([list(args), dict(kwargs)])
    digest = hashlib.sha256(material.encode()).hexdigest()[:40]
    return f"unique:{task_name}:{digest}"


def idempotency_record_key(task_name: str, key: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"done:{task_name}:{digest}"


def full_jitter_delay(retries: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**retries)].

    Full jitter spreads a burst of failures over the whole window, so retries of many
    tasks that failed together do not hit the recovering service together.
    """
    ceiling = min(cap, base * (2 ** min(retries, 62)))
    return random.uniform(0, ceiling)


class NexusTask(DjangoTask):  # type: ignore[misc]
    """Base class of every ``@task``. Class attributes are the per-task options."""

    serializer = "json"
    acks_late = True
    reject_on_worker_lost = True
    #: Exceptions retried with exponential backoff and full jitter.
    retry_on: tuple[type[BaseException], ...] = ()
    #: Seconds of the first retry delay / cap of any delay (``None``: the settings').
    backoff: float | None = None
    backoff_max: float | None = None
    unique: bool = False
    unique_ttl: int | None = None
    #: The unique key text instead of all the arguments: a callable of the task's
    #: arguments, or a string formatted with them by parameter name (``"booking:{booking_id}"``;
    #: a string without fields is one key for every call).
    unique_key: str | Callable[..., str] | None = None
    idempotent: bool = False

    # -- call site ------------------------------------------------------------------------
    def enqueue(self, *args: Any, **kwargs: Any) -> AsyncResult:
        """Send the task after the surrounding commit; ``durable``, ``using``,
        ``countdown``, ``eta``, ``queue`` and ``priority`` are dispatch options.

        Under ``task_always_eager`` the task runs in this process at that moment instead
        (``countdown``/``eta`` ignored, as Celery does); outside a transaction the return
        value is then the run's ``EagerResult``."""
        options = {k: kwargs.pop(k) for k in list(kwargs) if k in DISPATCH_OPTIONS}
        return self.enqueue_with(args=args, kwargs=kwargs, **options)

    def enqueue_with(
        self,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> AsyncResult:
        """``enqueue`` for tasks whose own parameters are called ``using``, ``queue``...

        Also takes ``unique_key=`` (a string), ``idempotency_key=``, ``owner=`` (a user or
        user id allowed to read the status), ``expires=`` and ``headers=``.
        """
        unknown = set(options) - DISPATCH_OPTIONS - EXTRA_OPTIONS
        if unknown:
            raise TypeError(
                f"enqueue_with() got unknown option(s) {sorted(unknown)}; "
                f"known: {sorted(DISPATCH_OPTIONS | EXTRA_OPTIONS)}."
            )
        args = list(args)
        kwargs = dict(kwargs or {})
        validate_arguments(self.run, self.name, args, kwargs)
        settings = get_settings()
        using: str = options.pop("using", None) or DEFAULT_DB_ALIAS
        durable = bool(options.pop("durable", False)) or settings.DISPATCH == "outbox"
        task_id = str(uuid.uuid4())
        nexus: dict[str, Any] = {"using": using}
        explicit_key = options.pop("unique_key", None)
        idem_key = options.pop("idempotency_key", None)
        owner = options.pop("owner", None)
        if idem_key is not None:
            nexus["idempotency_key"] = str(idem_key)
        if owner is not None:
            nexus["owner"] = str(getattr(owner, "pk", owner))
        headers = dict(options.pop("headers", None) or {})
        headers[HEADER] = nexus
        publish_options: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
        publish_options["headers"] = headers
        eta = publish_options.get("eta")
        if isinstance(eta, datetime.datetime) and eta.tzinfo is None:
            raise TypeError("eta must be an aware datetime (USE_TZ); a naive one is ambiguous.")
        message = Message(self.name, task_id, args, kwargs, publish_options, using=using)

        from nexus_tasks import _dispatch

        store_is_redis = False
        if self.unique or explicit_key is not None:
            if explicit_key is None:
                explicit_key = self._declared_unique_key(args, kwargs)
            if explicit_key is not None:
                nexus["unique_key"] = str(explicit_key)
            key = unique_lock_key(
                self.name, args, kwargs, None if explicit_key is None else str(explicit_key)
            )
            from nexus_tasks._store import get_store

            store = get_store()
            store_is_redis = settings.STORE == "redis"
            ttl = self.unique_ttl or settings.UNIQUE_TTL
            for _ in range(3):
                holder = store.acquire(key, task_id, task_id, ttl, using)
                if holder is None:
                    break
                if holder:
                    log_event("enqueue.duplicate", self.name, holder, duplicate_of=holder)
                    return self.AsyncResult(holder)
            message.unique_key = key
        if owner is not None:
            from nexus_tasks._records import remember_owner

            remember_owner(task_id, self.name, nexus["owner"], using)
        eager = _dispatch.schedule(message, durable=durable, release_on_rollback=store_is_redis)
        return eager if eager is not None else self.AsyncResult(task_id)

    # -- worker side ----------------------------------------------------------------------
    def _nexus_header(self) -> dict[str, Any]:
        request = self.request
        value = getattr(request, HEADER, None)
        if not isinstance(value, dict):
            value = (getattr(request, "headers", None) or {}).get(HEADER)
        return value if isinstance(value, dict) else {}

    def report_progress(self, done: int, total: int | None = None, message: str = "") -> None:
        """Publish progress as state ``PROGRESS`` with ``{"done", "total", "message"}``.

        Written to the result backend, outside any database transaction the task holds,
        so a status view sees it while the task runs.
        """
        meta = {"done": done, "total": total, "message": message}
        request = self.request
        task_id = request.id
        if task_id is None:
            return
        if request.is_eager and (getattr(request, "ignore_result", False) or not self.store_eager_result):
            # An in-process run whose results are not stored (capture_tasks().run(), eager
            # runs without CELERY_TASK_STORE_EAGER_RESULT): nobody can read the progress, and
            # writing it would need a result backend that such a run does without. (apply()
            # always sets the request's ignore_result, from its option or the task's.)
            return
        self.update_state(task_id=task_id, state="PROGRESS", meta=meta)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        request = self.request
        task_id = request.id
        if task_id is None or request.called_directly:
            return super().__call__(*args, **kwargs)
        header = self._nexus_header()
        using = header.get("using") or DEFAULT_DB_ALIAS
        started = time.monotonic()
        settings = get_settings()
        if (request.delivery_info or {}).get("redelivered"):
            deliveries = self._count_delivery(task_id, using)
            if deliveries >= settings.MAX_DELIVERIES:
                self._dead_letter(args, kwargs, "worker_lost", f"delivered {deliveries} times", using)
                self._release_unique(args, kwargs, header, using)
                raise Ignore()
        log_event("start", self.name, task_id, retries=request.retries)
        renewer = self._start_renewal(args, kwargs, header, using)
        try:
            if self.idempotent:
                result = self._run_idempotent(args, kwargs, header, using)
            else:
                result = self.run(*args, **kwargs)
        except Retry:
            raise
        except Ignore:
            self._release_unique(args, kwargs, header, using)
            raise
        except BaseException as exc:
            if isinstance(exc, self.retry_on) and request.retries < self._max_retries():
                delay = full_jitter_delay(
                    request.retries,
                    self.backoff if self.backoff is not None else settings.RETRY_BACKOFF,
                    self.backoff_max if self.backoff_max is not None else settings.RETRY_BACKOFF_MAX,
                )
                log_event("retry", self.name, task_id, level=30, countdown=round(delay, 3), error=repr(exc))
                raise self.retry_later(exc, delay, self._max_retries()) from exc
            reason = "max_retries" if isinstance(exc, self.retry_on) else "failed"
            if reason == "max_retries":
                self._dead_letter(args, kwargs, reason, repr(exc), using)
            log_event(
                "failure",
                self.name,
                task_id,
                level=40,
                duration_ms=round((time.monotonic() - started) * 1000, 2),
                error=repr(exc),
            )
            self._release_unique(args, kwargs, header, using)
            raise
        finally:
            if renewer is not None:
                renewer.set()
        self._release_unique(args, kwargs, header, using)
        log_event("success", self.name, task_id, duration_ms=round((time.monotonic() - started) * 1000, 2))
        return result

    def retry_later(self, exc: BaseException, countdown: float, max_retries: int | None) -> Retry:
        """``self.retry(...)``, returned for the caller to raise.

        In an eager run (``task_always_eager``) Celery runs the retry at once, in a nested
        ``apply()`` that would raise ``Retry`` itself to whoever committed when
        ``task_eager_propagates`` is on, so that a task that recovers on its second
        attempt would look like a crash. Marking the retry ``throw=False`` lets the
        attempts play out as on a worker; ``run_eagerly`` then raises the final failure.
        """
        retry = self.retry(exc=exc, countdown=countdown, max_retries=max_retries, throw=False)
        if self.request.is_eager and retry.sig is not None:
            retry.sig.options["throw"] = False
        return retry

    def _max_retries(self) -> int:
        value = self.max_retries
        return get_settings().MAX_RETRIES if value is None else int(value)

    def _count_delivery(self, task_id: str, using: str) -> int:
        from nexus_tasks._store import get_store

        store = get_store()
        key = f"deliveries:{task_id}"
        count = int(store.get(key, using) or 1) + 1
        store.put(key, str(count), 24 * 3600, using)
        return count

    def _declared_unique_key(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str | None:
        """The key text ``@task(unique_key=...)`` gives for these arguments, if it gives one."""
        spec = self.unique_key
        if spec is None:
            return None
        if callable(spec):
            return str(spec(*args, **kwargs))
        if "{" not in spec:
            return spec
        bound = inspect.signature(self.run).bind(*args, **kwargs)
        bound.apply_defaults()
        return spec.format(**bound.arguments)

    def _unique_key_for(
        self, args: Sequence[Any], kwargs: Mapping[str, Any], header: Mapping[str, Any]
    ) -> str | None:
        """The lock key of a message: from its header (written by ``enqueue``), else the
        task's own rule (a message sent by beat or ``delay``, or a time-limit kill, where
        the worker's main process has the arguments but not the headers)."""
        explicit = header.get("unique_key")
        if not self.unique and explicit is None:
            return None
        if explicit is None:
            explicit = self._declared_unique_key(args, kwargs)
        return unique_lock_key(self.name, args, kwargs, explicit)

    def _release_unique(
        self, args: Sequence[Any], kwargs: Mapping[str, Any], header: Mapping[str, Any], using: str
    ) -> None:
        key = self._unique_key_for(args, kwargs, header)
        if key is None or self.request.id is None:
            return
        from nexus_tasks._store import get_store

        get_store().release(key, self.request.id, using)

    def _start_renewal(
        self, args: Sequence[Any], kwargs: Mapping[str, Any], header: Mapping[str, Any], using: str
    ) -> threading.Event | None:
        """Keep a long task's unique lock alive: renew it every third of its TTL while the
        body runs (owner-checked, so a lock that was taken over is never extended)."""
        key = self._unique_key_for(args, kwargs, header)
        task_id = self.request.id
        if key is None or task_id is None:
            return None
        from nexus_tasks._store import get_store

        store = get_store()
        ttl = self.unique_ttl or get_settings().UNIQUE_TTL
        stop = threading.Event()
        if not store.renew(key, task_id, ttl, using):
            # Sent without enqueue() (beat, delay) or after its lock expired: take the lock
            # now, or, if another message of the same work holds it, do not run twice.
            holder = store.acquire(key, task_id, task_id, ttl, using)
            if holder is not None and holder != task_id:
                log_event("skip.duplicate", self.name, task_id, duplicate_of=holder)
                raise Ignore()

        def renew() -> None:
            from django.db import connections

            try:
                while not stop.wait(ttl / 3):
                    if not store.renew(key, task_id, ttl, using):
                        return
            finally:
                connections.close_all()

        threading.Thread(target=renew, name=f"nexus-renew-{task_id}", daemon=True).start()
        return stop

    def _run_idempotent(
        self, args: Sequence[Any], kwargs: Mapping[str, Any], header: Mapping[str, Any], using: str
    ) -> Any:
        from nexus_tasks._store import get_store

        task_id = str(self.request.id)
        record = idempotency_record_key(self.name, str(header.get("idempotency_key") or task_id))
        ttl = get_settings().IDEMPOTENCY_TTL
        store = get_store()
        if get_settings().STORE == "database":
            # The completion record and the body commit together: a body that died half
            # way leaves no record (it runs again), a body that committed is never rerun,
            # and a concurrent duplicate waits on the record's key until the first ends.
            with transaction.atomic(using=using):
                if store.acquire(record, task_id, task_id, ttl, using) is not None:
                    log_event("skip.completed", self.name, task_id)
                    return None
                return self.run(*args, **kwargs)
        if store.get(record, using) is not None:
            log_event("skip.completed", self.name, task_id)
            return None
        running = f"running:{record}"
        holder = store.acquire(running, task_id, task_id, self.unique_ttl or get_settings().UNIQUE_TTL, using)
        if holder is not None and holder != task_id:
            # Another delivery of the same work is running right now: come back later
            # rather than run it twice or drop it.
            raise self.retry(countdown=5, max_retries=None)
        try:
            result = self.run(*args, **kwargs)
            store.put(record, task_id, ttl, using)
        finally:
            store.release(running, task_id, using)
        return result

    def _dead_letter(
        self, args: Sequence[Any], kwargs: Mapping[str, Any], reason: str, error: str, using: str
    ) -> None:
        from nexus_tasks._message import dumps
        from nexus_tasks.models import DeadLetter

        DeadLetter.objects.using(using).create(
            task_id=str(self.request.id),
            task_name=self.name,
            payload=dumps({"args": list(args), "kwargs": dict(kwargs)}),
            reason=reason,
            error=error[:4000],
        )
        log_event("dead_letter", self.name, str(self.request.id), level=40, reason=reason)


_NEXUS_OPTIONS = (
    "retry_on",
    "backoff",
    "backoff_max",
    "unique",
    "unique_ttl",
    "unique_key",
    "idempotent",
)


@overload
def task(func: F, /) -> Any: ...
@overload
def task(func: None = None, /, **options: Any) -> Callable[[F], Any]: ...
def task(func: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Make ``func`` a Celery task (a ``shared_task`` on the project's app) with nexus
    options: ``retry_on``, ``max_retries``, ``backoff``, ``backoff_max``,
    ``unique``, ``unique_ttl``, ``unique_key``, ``idempotent``; any other Celery task
    option passes through."""
    if func is not None:
        return _build(func, options)

    def decorator(f: F) -> Any:
        return _build(f, options)

    return decorator


def _build(func: Callable[..., Any], options: dict[str, Any]) -> Any:
    if not callable(func):
        raise TypeError(f"@task decorates a function, not {type(func).__name__}.")
    opts = dict(options)
    if "retry_on" in opts:
        retry_on = opts["retry_on"]
        if inspect.isclass(retry_on):
            retry_on = (retry_on,)
        opts["retry_on"] = tuple(retry_on)
    serializer = opts.setdefault("serializer", "json")
    if serializer != "json":
        raise ValueError("nexus-tasks tasks are JSON only: pickle would run arbitrary code from the broker.")
    unique_key = opts.get("unique_key")
    if unique_key is not None and not isinstance(unique_key, str):
        if not callable(unique_key):
            raise TypeError("unique_key is a callable of the task's arguments or a str.")
        # A plain function as a class attribute would be called as a method (self first).
        opts["unique_key"] = staticmethod(unique_key)
    opts.setdefault("base", NexusTask)
    opts.setdefault("max_retries", None)
    if opts.get("idempotent"):
        # Named here, not through the task (that would finalize the Celery app), for the
        # system check nexus_tasks.I001.
        _idempotent_tasks.add(opts.get("name") or f"{func.__module__}.{func.__name__}")
    return shared_task(**opts)(func)


#: Names of the ``@task(idempotent=True)`` tasks defined so far (see ``_build``).
_idempotent_tasks: set[str] = set()


def idempotent_task_names() -> list[str]:
    """The idempotent tasks imported so far, sorted."""
    return sorted(_idempotent_tasks)


def _release_on_revoke(sender: Any = None, request: Any = None, **kwargs: Any) -> None:
    """A revoked unique task never runs: give its lock back (owner-checked)."""
    task_obj = sender
    if not isinstance(task_obj, NexusTask) or request is None:
        return
    header = {}
    raw = getattr(request, HEADER, None) or (getattr(request, "headers", None) or {}).get(HEADER)
    if isinstance(raw, dict):
        header = raw
    key = task_obj._unique_key_for(request.args or (), request.kwargs or {}, header)
    task_id = getattr(request, "id", None)
    if key is None or task_id is None:
        return
    from nexus_tasks._store import get_store

    get_store().release(key, str(task_id), header.get("using") or DEFAULT_DB_ALIAS)


def _release_after_time_limit(
    sender: Any = None,
    task_id: str | None = None,
    exception: BaseException | None = None,
    args: Any = None,
    kwargs: Any = None,
    **_: Any,
) -> None:
    """A hard time limit kills the child process running the body, which never gets to
    release its unique lock; the worker's main process reports the failure here (Celery
    sends ``task_failure`` for it on every supported version, while ``Task.on_failure``
    is called for it only from Celery 5.7). The main process knows the arguments, not the
    headers: a lock keyed by ``enqueue_with(unique_key=...)`` expires after its TTL."""
    from celery.exceptions import TimeLimitExceeded

    if not isinstance(sender, NexusTask) or not isinstance(exception, TimeLimitExceeded) or task_id is None:
        return
    key = sender._unique_key_for(args or (), kwargs or {}, {})
    if key is None:
        return
    from nexus_tasks._store import get_store

    get_store().release(key, str(task_id), DEFAULT_DB_ALIAS)


def _connect_signals() -> None:
    from celery.signals import task_failure, task_revoked

    task_revoked.connect(_release_on_revoke, weak=False, dispatch_uid="nexus_tasks.release_on_revoke")
    task_failure.connect(
        _release_after_time_limit, weak=False, dispatch_uid="nexus_tasks.release_after_time_limit"
    )


_connect_signals()
