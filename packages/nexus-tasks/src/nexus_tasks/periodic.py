"""``@periodic_task``: Celery beat's schedule declared next to the task, and a beat
scheduler that only runs while it holds a leader lock.

Entries are added to ``beat_schedule`` of every Celery app as it is finalized (the way
``shared_task`` registers tasks), without overriding an entry of the same name that the
project configured itself. Two beat processes with ``LeaderScheduler`` never both send:
only the holder of the ``beat:leader`` lock (TTL ``BEAT_LOCK_TTL``, renewed every tick)
applies due entries; the other takes over when the lock expires.
"""

from __future__ import annotations

import datetime
import threading
import uuid
from collections.abc import Callable
from typing import Any

from celery import _state
from celery.beat import PersistentScheduler, Scheduler

from nexus_tasks._task import task

_entries: dict[str, dict[str, Any]] = {}
_lock = threading.Lock()


def _install(app: Any) -> None:
    with _lock:
        entries = dict(_entries)
    schedule = dict(app.conf.beat_schedule or {})
    for name, entry in entries.items():
        schedule.setdefault(name, entry)
    app.conf.beat_schedule = schedule


_state.connect_on_app_finalize(_install)


def periodic_task(
    run_every: Any,
    *,
    name: str | None = None,
    args: tuple[Any, ...] | list[Any] = (),
    kwargs: dict[str, Any] | None = None,
    schedule_options: dict[str, Any] | None = None,
    **task_options: Any,
) -> Callable[[Callable[..., Any]], Any]:
    """Declare a task and its beat schedule: ``run_every`` is a ``crontab(...)``, any
    Celery schedule, a ``timedelta`` or a number of seconds. Other keywords are ``@task``
    options."""
    if isinstance(run_every, int | float) and not isinstance(run_every, bool):
        if run_every <= 0:
            raise ValueError("periodic_task(seconds) needs a positive number of seconds.")
        run_every = datetime.timedelta(seconds=run_every)

    def decorator(func: Callable[..., Any]) -> Any:
        task_name = task_options.pop("name", None) or name or f"{func.__module__}.{func.__name__}"
        result = task(name=task_name, **task_options)(func)
        with _lock:
            _entries[task_name] = {
                "task": task_name,
                "schedule": run_every,
                "args": tuple(args),
                "kwargs": dict(kwargs or {}),
                "options": dict(schedule_options or {}),
            }
        for app in list(_state._get_active_apps()):
            if app.finalized:
                _install(app)
        return result

    return decorator


def periodic_entries() -> dict[str, dict[str, Any]]:
    """The schedule entries declared with ``@periodic_task`` (a copy)."""
    with _lock:
        return dict(_entries)


class LeaderMixin:
    """Beat scheduler mixin: apply due entries only while holding the leader lock."""

    leader_key = "beat:leader"
    _leader_token: str | None = None

    def is_leader(self) -> bool:
        from nexus_tasks._store import get_store
        from nexus_tasks.conf import get_settings

        if self._leader_token is None:
            self._leader_token = uuid.uuid4().hex
        store = get_store()
        ttl = get_settings().BEAT_LOCK_TTL
        token = self._leader_token
        if store.renew(self.leader_key, token, ttl, "default"):
            return True
        return store.acquire(self.leader_key, token, token, ttl, "default") is None

    def tick(self, *args: Any, **kwargs: Any) -> float:
        from nexus_tasks.conf import get_settings

        if not self.is_leader():
            # Follower: check again well within the leader's TTL.
            return max(1.0, get_settings().BEAT_LOCK_TTL / 3)
        value: float = super().tick(*args, **kwargs)  # type: ignore[misc]
        return min(value, max(1.0, get_settings().BEAT_LOCK_TTL / 3))

    def close(self) -> None:
        from nexus_tasks._store import get_store

        if self._leader_token is not None:
            get_store().release(self.leader_key, self._leader_token, "default")
        super().close()  # type: ignore[misc]


class LeaderScheduler(LeaderMixin, PersistentScheduler):  # type: ignore[misc]
    """``celery beat -S nexus_tasks.periodic.LeaderScheduler``: the default persistent
    scheduler, safe to run in two places at once."""


class MemoryLeaderScheduler(LeaderMixin, Scheduler):  # type: ignore[misc]
    """The same without a schedule file (last-run times are kept in memory)."""
