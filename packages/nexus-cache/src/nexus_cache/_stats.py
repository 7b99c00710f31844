"""Counters: hits, misses, invalidations, errors... per process, flushed to the cache.

Counting must not cost a round trip per hit, so each process counts locally and adds its
deltas to shared counters in the cache at most every ``STATS_FLUSH_INTERVAL`` seconds
(and whenever ``stats()`` is called). ``manage.py nexus_cache stats`` reads the shared ones.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from nexus_cache.conf import get_settings

NAMES = (
    "hits",
    "misses",
    "stores",
    "bypasses",
    "invalidations",
    "errors",
    "retries",
    "stampede_waits",
    "stale_served",
)

_lock = threading.Lock()
_pending: Counter[str] = Counter()
_local: Counter[str] = Counter()
_last_flush = time.monotonic()


def incr(name: str, n: int = 1) -> None:
    with _lock:
        _pending[name] += n
        _local[name] += n
    if time.monotonic() - _last_flush >= get_settings().STATS_FLUSH_INTERVAL:
        flush()


def _key(name: str) -> str:
    from nexus_cache import __version__

    return f"{get_settings().KEY_PREFIX}:{__version__}:stats:{name}"


def flush() -> bool:
    """Add this process's unflushed deltas to the shared counters; False if the cache failed."""
    global _last_flush
    from nexus_cache import _store

    with _lock:
        deltas = {k: v for k, v in _pending.items() if v}
        _pending.clear()
        _last_flush = time.monotonic()
    if not deltas:
        return True
    timeout = get_settings().TOKEN_TIMEOUT

    def _apply() -> None:
        from nexus_cache import _backends

        _backends.for_cache(_store.cache()).add_counts({_key(n): v for n, v in deltas.items()}, timeout)

    try:
        _store.call(_apply)
    except Exception:
        with _lock:  # keep them for the next flush; errors were counted by call()
            _pending.update(deltas)
        return False
    return True


def shared() -> dict[str, int] | None:
    from nexus_cache import _store

    try:
        values: dict[str, Any] = _store.call(lambda: _store.cache().get_many([_key(n) for n in NAMES]))
    except Exception:
        return None
    return {n: int(values.get(_key(n), 0) or 0) for n in NAMES}


def local() -> dict[str, int]:
    with _lock:
        return {n: _local[n] for n in NAMES}


def reset_local() -> None:
    with _lock:
        _local.clear()
        _pending.clear()


__all__ = ["NAMES", "flush", "incr", "local", "reset_local", "shared"]
