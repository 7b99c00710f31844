"""Tasks the suite runs on real workers. Side effects are ``Event`` rows tagged per test.

Tasks that must be caught mid-run wait on a gate (``tests.gates.Gate``): they count their
run in Redis, then block until the test opens the gate, so a test kills, checks or
duplicates them at a point it chose instead of inside a window of ``sleep()``.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

from nexus_tasks import task

from tests.gates import wait_at_gate
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


@task(retry_on=(Flaky,), max_retries=3, backoff=0.05, backoff_max=0.2)
def flaky(tag: str, failures: int) -> str:
    done = Event.objects.filter(tag=tag, kind="attempt").count()
    Event.objects.create(tag=tag, kind="attempt")
    if done < failures:
        raise Flaky(f"attempt {done + 1} fails")
    Event.objects.create(tag=tag, kind="ran")
    return "ok"


@task(bind=True, retry_on=(Flaky,), max_retries=3, backoff=0.05, backoff_max=0.05)
def flaky_observed(self: Any, tag: str, failures: int) -> str:
    """Records, as each attempt starts, the state the result backend holds for the task:
    what a status poll between two attempts would see, read at a point that is always
    between them (the solo worker runs the retry only after the failed attempt stored
    its RETRY)."""
    state = self.AsyncResult(self.request.id).state
    Event.objects.create(tag=tag, kind=f"attempt {self.request.retries}: {state}")
    if self.request.retries < failures:
        raise Flaky(f"attempt {self.request.retries + 1} fails")
    return "ok"


@task(unique=True, unique_ttl=5)
def unique_slow(tag: str, seconds: float) -> None:
    """Run in-process only (captured or eager): its unique options are what counts."""
    Event.objects.create(tag=tag, kind="ran")


@task
def held(tag: str) -> str:
    Event.objects.create(tag=tag, kind="started")
    wait_at_gate(tag)
    Event.objects.create(tag=tag, kind="ran")
    return tag


@task(idempotent=True)
def idempotent_held(tag: str) -> str:
    """Its side effect is written inside the body's transaction (database store) before
    it waits, so a kill at the gate rolls it back."""
    Event.objects.create(tag=tag, kind="ran")
    wait_at_gate(tag)
    return tag


@task(idempotent=True)
def idempotent_record(tag: str) -> str:
    Event.objects.create(tag=tag, kind="ran")
    return tag


@task(unique=True, unique_ttl=3)
def unique_held(tag: str) -> str:
    Event.objects.create(tag=tag, kind="started")
    wait_at_gate(tag)
    Event.objects.create(tag=tag, kind="ran")
    return tag


@task(unique=True, unique_ttl=3)
def unique_record(tag: str) -> str:
    Event.objects.create(tag=tag, kind="ran")
    return tag


@task(unique=True, unique_ttl=60)
def unique_revocable(tag: str) -> str:
    """A lock that outlives any test (60 s): only a revoke can free it in time."""
    Event.objects.create(tag=tag, kind="ran")
    return tag


@task(unique=True, unique_ttl=60, time_limit=1)
def unique_overrunning(tag: str) -> None:
    """Killed by the hard time limit (prefork pool) long before its lock would expire."""
    wait_at_gate(tag)


@task(bind=True)
def progress(self: Any, tag: str, steps: int) -> int:
    """Reports step 1, waits for the test, then reports the rest."""
    self.report_progress(1, steps, "step 1")
    wait_at_gate(tag)
    for step in range(2, steps + 1):
        self.report_progress(step, steps, f"step {step}")
    return steps


@task(bind=True, idempotent=True)
def idempotent_progress(self: Any, tag: str, steps: int) -> int:
    """Its body runs inside a database transaction (idempotent, database store); its
    progress must still be visible outside while it waits at the gate."""
    Event.objects.create(tag=tag, kind="ran")
    self.report_progress(1, steps, "working")
    wait_at_gate(tag)
    return steps
