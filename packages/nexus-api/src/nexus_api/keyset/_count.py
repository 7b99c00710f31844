"""Count policies: how (and whether) a paginated list learns its total size.

``none`` never counts (the default: ``COUNT(*)`` on a large table costs more than the page);
``exact`` runs ``COUNT(*)``; ``estimate`` asks PostgreSQL's planner (exact below a small
threshold, and on other databases); ``cached`` keeps the exact count in the cache, through
nexus-cache when it is installed so that writes invalidate it, else in Django's default
cache for ``COUNT_CACHE_TIMEOUT`` seconds.
"""

from __future__ import annotations

import contextvars
import hashlib
import importlib
import json
from typing import Any, Literal, cast

from django.apps import apps
from django.core.cache import cache as default_cache
from django.db import connections, models

from nexus_api.conf import get_settings

__all__ = ["COUNT_POLICIES", "CountPolicy", "count_rows", "validate_policy"]

CountPolicy = Literal["none", "exact", "estimate", "cached"]
COUNT_POLICIES: tuple[str, ...] = ("none", "exact", "estimate", "cached")
#: Below this many estimated rows an exact count is cheap, and small estimates are the least accurate.
ESTIMATE_EXACT_BELOW = 1000

_pending: contextvars.ContextVar[models.QuerySet[Any]] = contextvars.ContextVar("nexus_api_count")
#: nexus-cache's cached counting function, and the COUNT_CACHE_TIMEOUT it was built with.
_nexus_cache_counter: Any = None
_nexus_cache_counter_timeout: int | None = None


def validate_policy(policy: str | None) -> CountPolicy:
    value = get_settings().COUNT_POLICY if policy is None else policy
    if value not in COUNT_POLICIES:
        raise ValueError(f"Unknown count policy {value!r}; use one of: {', '.join(COUNT_POLICIES)}.")
    return cast(CountPolicy, value)


def count_rows(queryset: models.QuerySet[Any], policy: str | None = None) -> int | None:
    """The number of rows in ``queryset`` under ``policy`` (``None`` under ``"none"``)."""
    chosen = validate_policy(policy)
    if chosen == "none":
        return None
    if chosen == "exact":
        return queryset.count()
    if chosen == "estimate":
        return _estimate(queryset)
    return _cached(queryset)


def _estimate(queryset: models.QuerySet[Any]) -> int:
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return queryset.count()
    sql, params = queryset.order_by().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str | bytes):
        plan = json.loads(plan)
    estimate = int(plan[0]["Plan"]["Plan Rows"])
    return queryset.count() if estimate < ESTIMATE_EXACT_BELOW else estimate


def _query_key(queryset: models.QuerySet[Any]) -> str:
    sql, params = queryset.order_by().query.sql_with_params()
    raw = json.dumps([queryset.db, sql, [repr(p) for p in params]])
    return hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


def _cached(queryset: models.QuerySet[Any]) -> int:
    timeout = get_settings().COUNT_CACHE_TIMEOUT
    cached_method = getattr(queryset, "cached", None)
    if callable(cached_method) and apps.is_installed("nexus_cache"):
        # A nexus-cache CachedQuerySet: its count is invalidated by writes to its tables.
        return int(cached_method(timeout=timeout).count())
    counter = _nexus_cache_count_function()
    key = _query_key(queryset)
    if counter is not None:
        token = _pending.set(queryset)
        try:
            return int(counter(key))
        finally:
            _pending.reset(token)
    cache_key = f"nexus_api:count:{key}"
    value = default_cache.get(cache_key)
    if value is None:
        value = queryset.count()
        default_cache.set(cache_key, value, timeout)
    return int(value)


def _count_pending(key: str) -> int:
    """Count the queryset in flight; ``key`` (a digest of its SQL) is the cache key."""
    return _pending.get().count()


def _nexus_cache_count_function() -> Any:
    """nexus-cache's ``cached`` around :func:`_count_pending`, or ``None`` without nexus-cache.

    The cached function depends on every table the COUNT reads (nexus-cache discovers them
    while computing), so a write to any of them invalidates the stored count.
    """
    global _nexus_cache_counter, _nexus_cache_counter_timeout
    if not apps.is_installed("nexus_cache"):
        return None
    timeout = get_settings().COUNT_CACHE_TIMEOUT
    if _nexus_cache_counter is None or _nexus_cache_counter_timeout != timeout:
        try:
            cached = importlib.import_module("nexus_cache").cached
        except (ImportError, AttributeError):  # pragma: no cover - an incompatible nexus-cache
            return None
        # Rebuilt when the timeout setting changes (override_settings), never per call.
        _nexus_cache_counter = cached(timeout=timeout)(_count_pending)
        _nexus_cache_counter_timeout = timeout
    return _nexus_cache_counter
