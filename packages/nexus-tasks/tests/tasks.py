"""Tasks the suite runs on real workers. Side effects are ``Event`` rows tagged per test."""

from __future__ import annotations

import datetime
import decimal
import time
import uuid
from typing import Any

from nexus_tasks import task

from tests.models import Event


class Flaky(ConnectionError):
    pass


@task
def record(tag: str, kind: str = "ran") -> str:
    Event.objects.create(tag=tag, kind=kind)
    return tag


@task(bind=True)
def echo_types(
    self: Any,
    tag: str,
    when: datetime.datetime,
    day: datetime.date,
    ident: uuid.UUID,
    amount: decimal.Decimal,
) -> str:
    ok = (
        isinstance(when, datetime.datetime)
        and isinstance(day, datetime.date)
        and isinstance(ident, uuid.UUID)
        and isinstance(amount, decimal.Decimal)
    )
    Event.objects.create(tag=tag, kind=f"{ok}|{when.isoformat()}|{day.isoformat()}|{ident}|{amount}")
    return tag


@task
def slow_record(tag: str, seconds: float) -> None:
    Event.objects.create(tag=tag, kind="started")
    time.sleep(seconds)
    Event.objects.create(tag=tag, kind="ran")


@task(idempotent=True)
def idempotent_slow(tag: str, seconds: float) -> None:
    Event.objects.create(tag=tag, kind="ran")
    time.sleep(seconds)


@task(retry_on=(Flaky,), max_retries=3, backoff=0.05, backoff_max=0.2)
def flaky(tag: str, failures: int) -> str:
    done = Event.objects.filter(tag=tag, kind="attempt").count()
    Event.objects.create(tag=tag, kind="attempt")
    if done < failures:
        raise Flaky(f"attempt {done + 1} fails")
    Event.objects.create(tag=tag, kind="ran")
    return "ok"


@task(unique=True, unique_ttl=5)
def unique_slow(tag: str, seconds: float) -> None:
    Event.objects.create(tag=tag, kind="started")
    time.sleep(seconds)
    Event.objects.create(tag=tag, kind="ran")


@task(bind=True)
def progress(self: Any, tag: str, steps: int, pause: float) -> int:
    for step in range(steps):
        self.report_progress(step + 1, steps, f"step {step + 1}")
        time.sleep(pause)
    return steps


def _mark(key: str) -> None:
    import redis

    from nexus_testing import redis_url

    client = redis.Redis.from_url(redis_url())
    try:
        client.set(key, "1", ex=120)
    finally:
        client.close()


@task(idempotent=True)
def idempotent_marked(tag: str, seconds: float) -> str:
    """Writes its side effect, tells the test it is running (through Redis, outside the
    body's transaction), then sleeps so the test can kill the worker mid-task."""
    Event.objects.create(tag=tag, kind="ran")
    _mark(f"{tag}:running")
    time.sleep(seconds)
    return tag


@task
def marked_slow(tag: str, seconds: float) -> str:
    Event.objects.create(tag=tag, kind="started")
    _mark(f"{tag}:running")
    time.sleep(seconds)
    Event.objects.create(tag=tag, kind="ran")
    return tag


@task(retry_on=(Flaky,), max_retries=3, backoff=1.5, backoff_max=1.5)
def flaky_slow_backoff(tag: str, failures: int) -> str:
    done = Event.objects.filter(tag=tag, kind="attempt").count()
    Event.objects.create(tag=tag, kind="attempt")
    if done < failures:
        raise Flaky(f"attempt {done + 1} fails")
    return "ok"


@task(unique=True, unique_ttl=3)
def unique_marked(tag: str, seconds: float) -> str:
    Event.objects.create(tag=tag, kind="started")
    _mark(f"{tag}:running")
    time.sleep(seconds)
    Event.objects.create(tag=tag, kind="ran")
    return tag


@task(unique=True, unique_ttl=60, time_limit=1)
def unique_overrunning(tag: str) -> None:
    """Killed by the hard time limit (prefork pool) long before its lock would expire."""
    _mark(f"{tag}:running")
    time.sleep(30)


@task(bind=True, idempotent=True)
def idempotent_progress(self: Any, tag: str, steps: int, pause: float) -> int:
    """Its body runs inside a database transaction (idempotent, database store); its
    progress must still be visible outside while it runs."""
    Event.objects.create(tag=tag, kind="ran")
    for step in range(steps):
        self.report_progress(step + 1, steps, "working")
        time.sleep(pause)
    return steps
