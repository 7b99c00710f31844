"""Project-level endpoints: the API index and the health check."""

from __future__ import annotations

import time
import uuid
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse


def index(request: HttpRequest) -> JsonResponse:
    base = request.build_absolute_uri("/")
    return JsonResponse(
        {
            "name": "Nexus Travel",
            "health": f"{base}health/",
            "listings": f"{base}api/v2/listings/",
            "listings_v1": f"{base}api/v1/listings/",
            "bookings": f"{base}api/v2/bookings/",
            "graphql": f"{base}graphql/",
            "openapi": f"{base}api/schema/",
            "docs": f"{base}api/docs/",
        }
    )


def _probe(check: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 2)}


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _cache() -> None:
    key = f"health:{uuid.uuid4().hex}"
    cache.set(key, "ok", 5)
    if cache.get(key) != "ok":
        raise RuntimeError("cache did not return what was stored")
    cache.delete(key)


def _broker() -> None:
    from nexus_travel.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=1)


def health(request: HttpRequest) -> JsonResponse:
    """200 when the database, the cache and the broker answer; 503 otherwise (for load balancers)."""
    checks = {"database": _probe(_database), "cache": _probe(_cache), "broker": _probe(_broker)}
    ok = all(c["ok"] for c in checks.values())
    body = {
        "status": "ok" if ok else "unhealthy",
        "checks": checks,
        "database": connection.vendor,
        "cache": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1],
        "broker": settings.CELERY_BROKER_URL.split("://", 1)[0],
    }
    return JsonResponse(body, status=200 if ok else 503)
