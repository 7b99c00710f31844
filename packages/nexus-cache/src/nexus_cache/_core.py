"""The read protocol shared by querysets, functions, views and resolvers.

    lookup   one round trip: the entry and the tokens it depends on (see _backends)
    validate every token the entry recorded is present and unchanged -> hit
    compute  under a Recorder: each statement's tokens are read before it runs
    store    value + token snapshot, with a finite timeout, unless the computation
             wrote, read uncommitted data of its own transaction, or the cache failed

A value computed from data that was committed over while it was computed is stored under
the *old* token, so it is never served: the write replaces the token after its commit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import random
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

from asgiref.sync import sync_to_async

from nexus_cache import __version__, _backends, _stats, _store, _tokens, _tracking
from nexus_cache.conf import get_settings

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Options:
    timeout: int | None = None
    #: Serve a value at most this many seconds old while another process recomputes it.
    stale: float | None = None
    #: XFetch beta: recompute early with a probability that grows near expiry.
    early: float | None = None
    #: Models (or 'app_label.Model') whose writes invalidate the value besides the tables
    #: its queries read (querysets' ``.cached(depends_on=...)``).
    depends_on: tuple[Any, ...] = ()


#: Options are immutable: the few combinations a process uses are made once (every
#: ``.cached(timeout=60)`` on the hit path would otherwise build a frozen dataclass).
_options_memo: dict[tuple[Any, ...], Options] = {}


def options(
    where: str,
    timeout: int | None,
    stale: float | None = None,
    early: float | None = None,
    depends_on: tuple[Any, ...] = (),
) -> Options:
    """Options of a cached queryset or function. A timeout must be a positive number of
    seconds: every entry has to expire, so that a lost invalidation costs bounded staleness."""
    memo_key: tuple[Any, ...] | None = (
        type(timeout),
        timeout,
        type(stale),
        stale,
        type(early),
        early,
        depends_on,
    )
    try:
        opts = _options_memo.get(memo_key)  # type: ignore[arg-type]
    except TypeError:  # unhashable: not memoized (and refused below)
        memo_key, opts = None, None
    if opts is not None:
        return opts
    if timeout is not None and (not isinstance(timeout, int) or isinstance(timeout, bool) or timeout <= 0):
        raise ValueError(f"{where}(timeout={timeout!r}): a timeout is a positive number of seconds")
    opts = Options(timeout=timeout, stale=stale, early=early, depends_on=depends_on)
    if memo_key is not None:
        if len(_options_memo) >= 1024:
            _options_memo.clear()
        _options_memo[memo_key] = opts
    return opts


@dataclasses.dataclass
class Result:
    value: Any
    hit: bool
    #: Dependencies and their token values (None when the value was not cacheable).
    names: tuple[str, ...] | None = None
    snapshot: tuple[int, ...] | None = None


def entry_key(kind: str, material: str) -> str:
    digest = hashlib.blake2b(f"{kind}\0{material}".encode(), digest_size=16).hexdigest()
    return f"{get_settings().KEY_PREFIX}:{__version__}:e:{digest}"


# -- process-local memo of what each key depends on (for the one-round-trip hit) -----------

_MEMO_MAX = 50000
_memo: dict[str, tuple[str, ...]] = {}
_memo_lock = threading.Lock()


def _remember(ekey: str, names: tuple[str, ...]) -> None:
    if _memo.get(ekey) == names:
        return
    with _memo_lock:
        if len(_memo) >= _MEMO_MAX:
            _memo.clear()
        _memo[ekey] = names


def memo_clear() -> None:
    with _memo_lock:
        _memo.clear()


# -- records -------------------------------------------------------------------------------
# (FORMAT, value, names, snapshot, created, duration, expires); see _backends.


def _valid(record: Any, tokens: dict[str, int]) -> bool:
    names, snapshot = record[2], record[3]
    return all(tokens.get(n) == v for n, v in zip(names, snapshot, strict=True))


@dataclasses.dataclass
class _Plan:
    ekey: str
    static: frozenset[str]
    opts: Options
    #: "hit" (value ready), "compute" (compute and store), "bypass" (compute, never store)
    action: str
    record: Any = None
    tokens: dict[str, int] = dataclasses.field(default_factory=dict)
    lock: str | None = None
    hit_stale: bool = False


_ONLY_GLOBAL = frozenset({_tokens.GLOBAL})


def _fetch(
    ekey: str, names: Iterable[str], *, cold: bool = False, extra: Sequence[str] = ()
) -> _backends.Fetched:
    """The entry and the tokens it depends on, in one cache round trip (see _backends)."""
    adapter = _backends.for_cache(_store.cache())
    fetch = adapter.fetch_cold if cold else adapter.fetch
    return fetch(ekey, names if isinstance(names, tuple) else tuple(names), extra)


def _fetch_tokens(names: Sequence[str]) -> dict[str, int]:
    return _backends.for_cache(_store.cache()).tokens(names)


class _Dirty(Exception):
    """The entry depends on tokens this thread's open transaction has written."""


def _lookup(ekey: str, static: frozenset[str], dirty: frozenset[str]) -> tuple[Any, dict[str, int], bool]:
    """(record or None, tokens read, whether the record is valid), in one round trip."""
    memo = _memo.get(ekey)
    if memo is None:
        fetched = _store.call(_fetch, ekey, static, cold=True)
    elif static == _ONLY_GLOBAL:  # (querysets): the memo tuple itself, whose keys are cached
        fetched = _store.call(_fetch, ekey, memo)
    else:
        # The entry's dependencies are known: fetch exactly those (the global epoch is
        # among them only for values that read no database).
        fetched = _store.call(_fetch, ekey, (static - _ONLY_GLOBAL) | set(memo))
    record, tokens = fetched.record, fetched.tokens
    if record is None:
        return None, tokens, False
    names = record[2]
    _remember(ekey, names)
    if dirty and not dirty.isdisjoint(names):
        raise _Dirty
    return record, tokens, _valid(record, tokens)


def _plan(ekey: str, static: Iterable[str], opts: Options) -> _Plan:
    """Everything before the computation: lookup, stampede lock or wait. Sync (blocking)."""
    s = get_settings()
    static = frozenset(static) | _ONLY_GLOBAL if static else _ONLY_GLOBAL
    _tracking.flush_deferred()
    if not s.ENABLED:
        return _Plan(ekey, static, opts, "bypass")
    if _tokens._retry and not _tokens.flush_retry():
        # Invalidations of ours are still undelivered: nothing cached can be trusted.
        _stats.incr("bypasses")
        return _Plan(ekey, static, opts, "bypass")
    dirty = _tracking.dirty()
    if dirty and not dirty.isdisjoint(static | set(_memo.get(ekey, ()))):
        _stats.incr("bypasses")
        return _Plan(ekey, static, opts, "bypass")
    try:
        record, tokens, valid = _lookup(ekey, static, dirty)
    except (_store.CacheUnavailable, _Dirty):
        _stats.incr("bypasses")
        return _Plan(ekey, static, opts, "bypass")
    if valid:
        if opts.early and _early(record, opts.early):
            lock = _try_lock(ekey)
            if lock is not None:
                return _Plan(ekey, static, opts, "compute", tokens=tokens, lock=lock)
        return _Plan(ekey, static, opts, "hit", record=record, tokens=tokens)
    if not s.STAMPEDE_PROTECTION:
        return _Plan(ekey, static, opts, "compute", tokens=tokens)
    lock = _try_lock(ekey)
    if lock is not None:
        return _Plan(ekey, static, opts, "compute", tokens=tokens, lock=lock)
    # Someone else is computing this key.
    if record is not None and opts.stale is not None and time.time() - record[4] <= opts.stale:
        _stats.incr("stale_served")
        return _Plan(ekey, static, opts, "hit", record=record, tokens=tokens, hit_stale=True)
    return _wait(ekey, static, opts, tokens)


def _early(record: Any, beta: float) -> bool:
    duration, expires = record[5], record[6]
    return bool(time.time() - duration * beta * math.log(random.random() or 1e-12) >= expires)


def _lock_key(ekey: str) -> str:
    return f"{ekey}:lock"


def _try_lock(ekey: str) -> str | None:
    owner = secrets.token_hex(8)
    timeout = max(1, math.ceil(get_settings().STAMPEDE_LOCK_TIMEOUT))
    try:
        if _store.call(_store.cache().add, _lock_key(ekey), owner, timeout):
            return owner
    except _store.CacheUnavailable:
        return None
    return None


def _wait(ekey: str, static: frozenset[str], opts: Options, tokens: dict[str, int]) -> _Plan:
    """Wait (bounded) for the winner's value; a winner that died or failed never blocks us."""
    _stats.incr("stampede_waits")
    deadline = time.monotonic() + get_settings().STAMPEDE_LOCK_TIMEOUT
    pause = 0.005
    lock_key = _lock_key(ekey)
    while time.monotonic() < deadline:
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 1.5, 0.1)
        dirty = _tracking.dirty()
        try:
            expected = static | set(_memo.get(ekey, ()))
            fetched = _store.call(_fetch, ekey, expected, extra=(lock_key,))
            record, tokens = fetched.record, fetched.tokens
            if record is not None:
                _remember(ekey, record[2])
                if (not dirty or dirty.isdisjoint(record[2])) and _valid(record, tokens):
                    return _Plan(ekey, static, opts, "hit", record=record, tokens=tokens)
            if lock_key not in fetched.present:
                lock = _try_lock(ekey)
                if lock is not None:
                    return _Plan(ekey, static, opts, "compute", tokens=tokens, lock=lock)
        except _store.CacheUnavailable:
            return _Plan(ekey, static, opts, "bypass")
    return _Plan(ekey, static, opts, "compute", tokens=tokens)


def _hit(plan: _Plan) -> Result:
    record = plan.record
    if not plan.hit_stale:
        _stats.incr("hits")
    outer = _tracking.current()
    if outer is not None:
        # A value served inside another computation: that one depends on it too.
        outer.values.update(zip(record[2], record[3], strict=True))
        outer.names.update(record[2])
    return Result(record[1], True, record[2], record[3])


def _start(plan: _Plan) -> _tracking.Recorder:
    rec = _tracking.Recorder(plan.tokens, reading=plan.action == "compute")
    if plan.action == "compute":
        rec.need(plan.static)
    else:
        rec.names |= plan.static
    return rec


def _finish(plan: _Plan, rec: _tracking.Recorder, value: Any, started: float, ok: bool) -> Result:
    outer = _tracking.current()
    if outer is not None:
        outer.names |= rec.names
        for n, v in rec.values.items():
            outer.values.setdefault(n, v)
        # An inner value that was not cacheable (bypassed, failed) makes the outer one so.
        outer.failed |= rec.failed or plan.action != "compute" or not ok
        outer.wrote |= rec.wrote
        outer.unsafe |= rec.unsafe
    names_set = rec.names
    if _tokens.GLOBAL in names_set and any(n.endswith("|E") for n in names_set):
        # A database epoch is replaced by `clear` as well: one token less per hit.
        names_set = names_set - {_tokens.GLOBAL}
    names = tuple(sorted(names_set))
    try:
        if plan.action != "compute" or not ok:
            return Result(value, False)
        _stats.incr("misses")
        if rec.failed or rec.wrote or rec.unsafe:
            _stats.incr("bypasses")
            return Result(value, False)
        dirty = _tracking.dirty()
        if dirty and not dirty.isdisjoint(names):
            _stats.incr("bypasses")
            return Result(value, False)
        snapshot = tuple(rec.values[n] for n in names)
        timeout = plan.opts.timeout or get_settings().TIMEOUT
        now = time.time()
        record = (_backends.FORMAT, value, names, snapshot, now, now - started, now + timeout)
        try:
            _store.call(_store_record, plan.ekey, record, timeout)
        except _store.CacheUnavailable:
            return Result(value, False)
        _remember(plan.ekey, names)
        _stats.incr("stores")
        return Result(value, False, names, snapshot)
    finally:
        if plan.lock is not None:
            _release(plan.ekey, plan.lock)


def _store_record(ekey: str, record: _backends.Record, timeout: int) -> None:
    _backends.for_cache(_store.cache()).store(ekey, record, timeout)


def _release(ekey: str, owner: str) -> None:
    try:
        c = _store.cache()
        if _store.call(c.get, _lock_key(ekey)) == owner:
            _store.call(c.delete, _lock_key(ekey))
    except _store.CacheUnavailable:
        pass


def get_or_compute(
    ekey: str,
    compute: Callable[[], T],
    *,
    static: Iterable[str] = (),
    opts: Options = Options(),
    on_value: Callable[[T, _tracking.Recorder], None] | None = None,
) -> Result:
    """Serve ``ekey`` from the cache or compute it (sync)."""
    plan = _plan(ekey, static, opts)
    if plan.action == "hit":
        return _hit(plan)
    rec = _start(plan)
    token = _tracking.recording(rec)
    started = time.time()
    ok = False
    try:
        value = compute()
        if on_value is not None:
            on_value(value, rec)
        ok = True
    finally:
        _tracking.stop_recording(token)
        if not ok:
            _finish(plan, rec, None, started, False)
    return _finish(plan, rec, value, started, True)


async def aget_or_compute(
    ekey: str, compute: Callable[[], Awaitable[T]], *, static: Iterable[str] = (), opts: Options = Options()
) -> Result:
    """The async twin: cache calls run in a worker thread, the computation on the loop."""
    plan = await sync_to_async(_plan)(ekey, static, opts)
    if plan.action == "hit":
        return _hit(plan)
    rec = await sync_to_async(_start)(plan)
    token = _tracking.recording(rec)
    started = time.time()
    ok = False
    try:
        value = await compute()
        ok = True
    finally:
        _tracking.stop_recording(token)
        if not ok:
            await sync_to_async(_finish)(plan, rec, None, started, False)
    return await sync_to_async(_finish)(plan, rec, value, started, True)


def explain(ekey: str) -> dict[str, Any]:
    """What an entry holds and depends on, and whether it is valid now (for the command)."""
    record = _store.call(lambda: _backends.for_cache(_store.cache()).get(ekey))
    if record is None:
        return {"key": ekey, "present": False}
    names, snapshot = record[2], record[3]
    current = _store.call(_fetch_tokens, names) if names else {}
    deps = [
        {"token": n, "stored": v, "current": current.get(n), "valid": current.get(n) == v}
        for n, v in zip(names, snapshot, strict=True)
    ]
    return {
        "key": ekey,
        "present": True,
        "valid": all(d["valid"] for d in deps),
        "created": record[4],
        "expires": record[6],
        "compute_seconds": record[5],
        "value_type": type(record[1]).__name__,
        "dependencies": deps,
    }


__all__ = [
    "Options",
    "Result",
    "aget_or_compute",
    "entry_key",
    "explain",
    "get_or_compute",
    "memo_clear",
    "options",
]
