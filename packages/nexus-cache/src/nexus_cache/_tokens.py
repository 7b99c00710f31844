"""Generation tokens: names, cache keys, reading (creating when absent) and replacing.

A token is an int ``(milliseconds << 22) | random``: unique enough that a replaced token
never comes back to an old value, and it carries the time it was set (``Last-Modified``).

Token *names* are readable (``default|T|listings_listing``); their cache keys are hashed,
namespaced by ``KEY_PREFIX`` and the package version. Names by kind, within the namespace of
a primary database alias:

``T|table``    any write to the table
``R|table|pk`` a write to that row
``B|table``    a write to rows we cannot name (bulk update/delete, truncate)
``I|table``    rows may have been created (insert, upsert)
``E``          the database epoch: a write we could not attribute to a table
``A``          any write at all (for reads of views and other unknown relations)
and, outside databases: ``*|G`` (global epoch, ``clear``), ``*|F|fn`` (a function) and
``*|K|hash`` (one entry of a function).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import connections

from nexus_cache import _stats, _store
from nexus_cache.conf import _reload_hooks, get_settings

logger = logging.getLogger("nexus_cache")

GLOBAL = "*|G"


def new_value() -> int:
    return (int(time.time() * 1000) << 22) | secrets.randbits(22)


def new_values(count: int) -> list[int]:
    """``count`` new token values from one read of the system's random source (a write
    replaces 3-4 tokens: one ``getrandom`` call instead of one per token)."""
    stamp = int(time.time() * 1000) << 22
    noise = int.from_bytes(os.urandom(3 * count), "big")
    return [stamp | ((noise >> (24 * i)) & 0x3FFFFF) for i in range(count)]


def value_time(value: int) -> float:
    """Seconds since the epoch at which a token value was created."""
    return (value >> 22) / 1000.0


@functools.lru_cache(maxsize=65536)
def key(name: str) -> str:
    from nexus_cache import __version__

    digest = hashlib.blake2b(name.encode(), digest_size=12).hexdigest()
    return f"{get_settings().KEY_PREFIX}:{__version__}:t:{digest}"


_reload_hooks.append(key.cache_clear)


@functools.lru_cache(maxsize=64)
def namespace(alias: str) -> str:
    """Token namespace of a database alias: replicas share their primary's."""
    replicas = get_settings().REPLICAS
    if alias in replicas:
        return replicas[alias]
    try:
        mirror = connections.settings[alias].get("TEST", {}).get("MIRROR")
    except Exception:  # pragma: no cover - unknown alias
        mirror = None
    return str(mirror) if mirror else alias


_reload_hooks.append(namespace.cache_clear)


def table(ns: str, name: str) -> str:
    return f"{ns}|T|{name}"


def row(ns: str, tbl: str, pk: str) -> str:
    return f"{ns}|R|{tbl}|{pk}"


def bulk(ns: str, tbl: str) -> str:
    return f"{ns}|B|{tbl}"


def inserts(ns: str, tbl: str) -> str:
    return f"{ns}|I|{tbl}"


def epoch(ns: str) -> str:
    return f"{ns}|E"


def any_write(ns: str) -> str:
    return f"{ns}|A"


def function(fn_id: str) -> str:
    return f"*|F|{fn_id}"


def entry(entry_key: str) -> str:
    return f"*|K|{entry_key}"


def read(names: Iterable[str], known: Mapping[str, int] | None = None) -> dict[str, int]:
    """Current values of the tokens, creating absent ones. Raises CacheUnavailable.

    An absent token is created with ``add`` so two readers agree on it; when a backend's
    ``add`` is not atomic (file cache) the loser's entry simply never validates: it costs a
    miss, never a stale hit.
    """
    out: dict[str, int] = {}
    wanted: dict[str, str] = {}
    for n in names:
        if known is not None and n in known:
            out[n] = known[n]
        else:
            wanted[key(n)] = n
    if not wanted:
        return out
    c = _store.cache()
    got: dict[str, Any] = _store.call(c.get_many, list(wanted))
    missing: list[str] = []
    for k, n in wanted.items():
        v = got.get(k)
        if isinstance(v, int):
            out[n] = v
        else:
            missing.append(k)
    if missing:
        timeout = get_settings().TOKEN_TIMEOUT
        for k in missing:
            v = new_value()
            if not _store.call(c.add, k, v, timeout):
                current = _store.call(c.get, k)
                if isinstance(current, int):
                    v = current
                else:  # vanished again: ours will do, set it
                    _store.call(c.set, k, v, timeout)
            out[wanted[k]] = v
    return out


# -- replacing ------------------------------------------------------------------------------

_retry_lock = threading.Lock()
_retry: set[str] = set()
_retry_timer: threading.Timer | None = None
_RETRY_MAX = 20000
_NOTHING: frozenset[str] = frozenset()


def replace(names: Iterable[str]) -> bool:
    """Give the tokens new values (one round trip). A failure is queued and retried."""
    names = set(names)
    if not names:
        return True
    retrying = pending_retry() if _retry else _NOTHING
    try:
        _write(names | retrying)
    except Exception:
        _queue_retry(names)
        return False
    _done_retry(retrying)
    return True


def _write(names: Iterable[str]) -> None:
    """Store new values for the tokens, or raise (CacheUnavailable, or the error itself when
    ``FAIL_OPEN`` is off)."""
    names = list(names)
    values = dict(zip(map(key, names), new_values(len(names)), strict=True))
    _store.call(_write_values, values, get_settings().TOKEN_TIMEOUT)


def _write_values(values: dict[str, int], timeout: int) -> None:
    from nexus_cache import _backends

    _backends.for_cache(_store.cache()).write_tokens(values, timeout)


def pending_retry() -> frozenset[str]:
    with _retry_lock:
        return frozenset(_retry)


def _take_retry() -> set[str]:
    with _retry_lock:
        names = set(_retry)
        _retry.clear()
    return names


def _done_retry(names: frozenset[str]) -> None:
    # Names leave the queue only once delivered: until then readers in this process keep
    # bypassing the cache (a reader must never see an empty queue mid-delivery).
    if names:
        with _retry_lock:
            _retry.difference_update(names)


def _queue_retry(names: set[str]) -> None:
    global _retry_timer
    with _retry_lock:
        _retry.update(names)
        if len(_retry) > _RETRY_MAX:
            # Too much to remember: the epochs cover everything.
            spaces = {n.split("|", 1)[0] for n in _retry}
            _retry.clear()
            _retry.update(epoch(ns) for ns in spaces if ns != "*")
            _retry.add(GLOBAL)
        if _retry_timer is None or not _retry_timer.is_alive():
            _retry_timer = threading.Timer(get_settings().RETRY_INTERVAL, _retry_loop)
            _retry_timer.daemon = True
            _retry_timer.start()
    logger.warning("nexus_cache: %d token replacement(s) failed; retrying", len(names))


def flush_retry() -> bool:
    """Retry failed replacements now. True when nothing is left pending."""
    names = pending_retry()
    if not names:
        return True
    _stats.incr("retries")
    try:
        _write(names)
    except Exception:
        return False
    _done_retry(names)
    logger.info("nexus_cache: %d delayed token replacement(s) applied", len(names))
    return not pending_retry()


def _retry_loop() -> None:
    global _retry_timer
    if flush_retry():
        with _retry_lock:
            _retry_timer = None
        return
    with _retry_lock:
        _retry_timer = threading.Timer(get_settings().RETRY_INTERVAL, _retry_loop)
        _retry_timer.daemon = True
        _retry_timer.start()


__all__ = [
    "GLOBAL",
    "any_write",
    "bulk",
    "entry",
    "epoch",
    "flush_retry",
    "function",
    "inserts",
    "key",
    "namespace",
    "new_value",
    "new_values",
    "pending_retry",
    "read",
    "replace",
    "row",
    "table",
    "value_time",
]
