"""Guarded access to the Django cache: circuit breaker, error counting, fail-open.

Every cache call of the package goes through ``call()``. A failing cache must never fail a
request: errors are logged and counted, and after ``CIRCUIT_BREAKER_THRESHOLD`` consecutive
failures the cache is not even tried for ``CIRCUIT_BREAKER_COOLDOWN`` seconds, so a dead
Redis costs nothing per request.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from django.core.cache import BaseCache, caches

from nexus_cache import _stats
from nexus_cache.conf import get_settings

logger = logging.getLogger("nexus_cache")

T = TypeVar("T")


class CacheUnavailable(Exception):
    """The cache failed (or the circuit is open); the caller falls through to the source."""


class _Breaker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.failures = 0
        self.open_until = 0.0

    def allow(self) -> bool:
        return time.monotonic() >= self.open_until

    def success(self) -> None:
        if self.failures:
            with self._lock:
                self.failures = 0
                self.open_until = 0.0

    def failure(self) -> bool:
        """Record one failure; True when this failure opened the circuit."""
        s = get_settings()
        with self._lock:
            self.failures += 1
            if self.failures >= s.CIRCUIT_BREAKER_THRESHOLD:
                opened = self.open_until <= time.monotonic()
                self.open_until = time.monotonic() + s.CIRCUIT_BREAKER_COOLDOWN
                return opened
        return False

    def reset(self) -> None:
        with self._lock:
            self.failures = 0
            self.open_until = 0.0


breaker = _Breaker()
_internal = threading.local()


def internal() -> bool:
    """True while this thread is inside a cache call of ours (the database cache backend
    runs SQL: those statements must not be tracked as reads or writes)."""
    return getattr(_internal, "active", False)


@contextlib.contextmanager
def untracked() -> Iterator[None]:
    """Statements run inside are the cache's or ours, not the application's reads."""
    previous = getattr(_internal, "active", False)
    _internal.active = True
    try:
        yield
    finally:
        _internal.active = previous


def cache() -> BaseCache:
    return caches[get_settings().CACHE_ALIAS]


def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one cache operation. Raises CacheUnavailable (or the error when FAIL_OPEN is off)."""
    if not breaker.allow() and get_settings().FAIL_OPEN:
        # (With FAIL_OPEN off every call is tried, so that every cache error is raised.)
        raise CacheUnavailable("circuit open")
    # (try/finally rather than the untracked() context manager: this is on every hit)
    previous = getattr(_internal, "active", False)
    _internal.active = True
    try:
        result = fn(*args, **kwargs)
    except Exception as exc:
        opened = breaker.failure()
        _stats.incr("errors")
        if opened:
            logger.warning(
                "nexus_cache: cache %r failed (%s: %s); skipping it for %.1fs, reads go to the database",
                get_settings().CACHE_ALIAS,
                type(exc).__name__,
                exc,
                get_settings().CIRCUIT_BREAKER_COOLDOWN,
            )
        else:
            logger.info("nexus_cache: cache operation failed: %s: %s", type(exc).__name__, exc)
        if not get_settings().FAIL_OPEN:
            raise
        raise CacheUnavailable(str(exc)) from exc
    finally:
        _internal.active = previous
    breaker.success()
    return result


__all__ = ["CacheUnavailable", "breaker", "cache", "call", "internal", "untracked"]
