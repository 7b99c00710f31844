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
