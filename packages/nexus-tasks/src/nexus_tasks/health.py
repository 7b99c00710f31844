"""The health report shared by ``manage.py nexus_tasks health`` and the JSON health view."""

from __future__ import annotations

import concurrent.futures
from typing import Any

from celery import current_app
from django.db.models import Min
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from nexus_tasks.conf import get_settings


def _broker_reachable(timeout: float) -> tuple[bool, str]:
    app: Any = current_app

    def check() -> None:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        pool.submit(check).result(timeout=timeout * 2)
        return True, ""
    except Exception as exc:  # a timeout or the transport's error: both mean "down"
        return False, repr(exc) or type(exc).__name__
    finally:
        pool.shutdown(wait=False)


def _workers(timeout: float) -> list[str]:
    app: Any = current_app
    try:
        replies = app.control.ping(timeout=timeout) or []
    except Exception:
        return []
    return sorted(name for reply in replies for name in reply)


def health_report(using: str = "default", *, ping_timeout: float = 1.0) -> dict[str, Any]:
    """Broker, live workers, outbox backlog and oldest pending age, dead letters, held
    unique locks; ``healthy`` is false (and ``problems`` says why) when work is stuck."""
    from nexus_tasks._store import get_store
    from nexus_tasks.models import DeadLetter, OutboxMessage

    settings = get_settings()
    problems: list[str] = []
    broker_ok, broker_error = _broker_reachable(ping_timeout)
    if not broker_ok:
        problems.append(f"broker unreachable ({broker_error})")
    workers = _workers(ping_timeout) if broker_ok else []
    if broker_ok and not workers:
        problems.append("no worker answered a ping")
    pending = OutboxMessage.objects.using(using).filter(sent_at__isnull=True)
    backlog = pending.count()
    oldest = pending.aggregate(oldest=Min("created_at"))["oldest"]
    oldest_age = (timezone.now() - oldest).total_seconds() if oldest is not None else 0.0
    if oldest_age > settings.HEALTH_MAX_OUTBOX_AGE:
        problems.append(f"oldest pending outbox message is {oldest_age:.0f}s old (is a relay running?)")
    dead_letters = DeadLetter.objects.using(using).count()
    try:
        locks: int | None = get_store().count("unique:", using)
    except Exception as exc:
        locks = None
        problems.append(f"store unreachable ({exc!r})")
    return {
        "healthy": not problems,
        "problems": problems,
        "broker": {"reachable": broker_ok, "error": broker_error},
        "workers": workers,
        "outbox": {"pending": backlog, "oldest_pending_age_seconds": round(oldest_age, 3)},
        "dead_letters": dead_letters,
        "unique_locks_held": locks,
    }


def health_view(request: HttpRequest) -> JsonResponse:
    """JSON health report; status 503 when unhealthy (for load balancers and probes).

    It exposes queue sizes and worker names: route it behind your own access control.
    """
    report = health_report()
    return JsonResponse(report, status=200 if report["healthy"] else 503)
