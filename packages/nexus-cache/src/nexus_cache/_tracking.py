"""Seeing every statement: write detection, after-commit invalidation, dependency discovery.

One ``execute_wrapper`` is installed on every database connection (``connection_created``).
It sees every statement Django runs, whatever produced it: ``save()``, ``QuerySet.update()``,
``bulk_update()``, m2m changes, multi-table inheritance, raw cursors. So no write path can
be forgotten.

* A write replaces its tokens **after** the statement ran, and inside a transaction only
  when it commits: registered per savepoint with ``transaction.on_commit`` (so that rolling
  a savepoint back drops exactly its invalidations) and applied by a hook on the
  connection's ``commit()``, which also serves manual transaction management.
* While the transaction is open its pending tokens are *dirty*: cached reads that depend on
  them bypass the cache, so uncommitted data is never served to others nor stored.
* While a cached value is being computed (a ``Recorder`` is active in the context), every
  read statement's tokens are read *before* the statement runs and become dependencies.
* On PostgreSQL a handled write is tagged with a SQL comment, for ``contrib.postgres``.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

from django.apps import apps
from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.db.models.signals import class_prepared

from nexus_cache import _sql, _stats, _store, _tokens
from nexus_cache.conf import _reload_hooks, get_settings
from nexus_cache.signals import invalidated

logger = logging.getLogger("nexus_cache")

# -- schema knowledge ---------------------------------------------------------------------

_meta_lock = threading.Lock()
_meta: _sql.TableMeta | None = None
_cascades: dict[str, frozenset[str]] = {}


def table_meta() -> _sql.TableMeta:
    global _meta, _cascades
    meta = _meta
    if meta is not None:
        return meta
    with _meta_lock:
        if _meta is not None:
            return _meta
        if not apps.ready:  # pragma: no cover - statements before app loading
            return _sql.TableMeta({})
        pks: dict[str, str] = {}
        cascades: dict[str, set[str]] = {}
        for model in apps.get_models(include_auto_created=True):
            opts = model._meta
            if opts.pk is not None and opts.pk.column is not None:
                pks[opts.db_table] = opts.pk.column
            for field in opts.local_fields:
                # Django 6.1 database-level on_delete: the database changes rows of the
                # referencing table without a statement we could see.
                if getattr(field, "db_on_delete", None) is not None and field.related_model is not None:
                    target = field.related_model._meta.db_table
                    cascades.setdefault(target, set()).add(opts.db_table)
        _cascades = {k: frozenset(v) for k, v in cascades.items()}
        _meta = _sql.TableMeta(pks)
        return _meta


def _reset_meta(**kwargs: Any) -> None:
    global _meta
    _meta = None


class_prepared.connect(_reset_meta, dispatch_uid="nexus_cache.reset_meta")
_reload_hooks.append(_reset_meta)


# -- token names of a write ----------------------------------------------------------------


def write_names(ns: str, stmt: _sql.Statement, params: Any, many: bool) -> set[str]:
    names: set[str] = set()
    ignore = get_settings().IGNORE_TABLES
    if stmt.unknown_write:
        names.add(_tokens.epoch(ns))
    for w in stmt.writes:
        if w.table in ignore:
            continue
        names.add(_tokens.table(ns, w.table))
        bulk = w.bulk
        if w.rows is not None:
            keys = w.rows.keys(params, many)
            if keys is None:
                bulk = True
            else:
                names.update(_tokens.row(ns, w.table, k) for k in keys)
        if bulk:
            names.add(_tokens.bulk(ns, w.table))
        if w.inserts:
            names.add(_tokens.inserts(ns, w.table))
        for child in _cascades.get(w.table, ()):
            names.update((_tokens.table(ns, child), _tokens.bulk(ns, child)))
    if names:
        names.add(_tokens.any_write(ns))
    return names


# -- pending invalidations of open transactions ------------------------------------------------

_PENDING_ATTR = "_nexus_cache_pending"
_MANUAL_ATTR = "_nexus_cache_manual"


class _Pending:
    """The tokens one transaction (or savepoint level) will replace when it commits.

    Registered with ``transaction.on_commit`` so that Django drops it when its savepoint
    rolls back. It is applied by the commit hook below right after the real COMMIT (Django
    runs on_commit callbacks of a manually managed connection only when autocommit is
    switched back on, which may be never); the on_commit call then finds it done.
    """

    __slots__ = ("alias", "done", "names")

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.names: set[str] = set()
        self.done = False

    def __call__(self) -> None:
        if not self.done:
            self.done = True
            apply_invalidation(self.alias, self.names)


def apply_invalidation(alias: str | None, names: set[str], *, guard: bool = True) -> None:
    """Replace tokens now (after a commit), count it, signal it, and arm the replica guard."""
    if not names:
        return
    _tokens.replace(names)
    _stats.incr("invalidations")
    invalidated.send(sender=None, alias=alias, tokens=frozenset(names))
    lag = get_settings().REPLICA_LAG_GUARD
    if guard and lag > 0 and alias is not None and _has_replicas(alias):
        timer = threading.Timer(lag, apply_invalidation, args=(alias, set(names)), kwargs={"guard": False})
        timer.daemon = True
        timer.start()


def _has_replicas(alias: str) -> bool:
    ns = _tokens.namespace(alias)
    return any(_tokens.namespace(other) == ns and other != alias for other in connections)


def in_transaction(conn: BaseDatabaseWrapper) -> bool:
    """Inside ``atomic()``, or in a transaction opened by ``set_autocommit(False)``."""
    return bool(conn.in_atomic_block or _manual(conn))


def _manual(conn: BaseDatabaseWrapper) -> bool:
    # ``autocommit`` is False on a wrapper that never connected, too: only an open
    # connection can hold a transaction.
    return conn.connection is not None and not conn.autocommit


#: ids of connections that may hold pending invalidations. Empty - the usual case outside
#: transactions - lets dirty() answer without looking at any connection. An id stays until
#: a look at its connection finds nothing pending (a stale one only costs that look).
_maybe_dirty: set[int] = set()
_CLEAN: frozenset[str] = frozenset()


def register_write(conn: BaseDatabaseWrapper, names: set[str]) -> None:
    if not names:
        return
    if conn.in_atomic_block or _manual(conn):
        _maybe_dirty.add(id(conn))
    if conn.in_atomic_block:
        pending: dict[tuple[Any, ...], _Pending] = conn.__dict__.setdefault(_PENDING_ATTR, {})
        sids = tuple(conn.savepoint_ids)
        p = pending.get(sids)
        # (A done one was run early - TestCase.captureOnCommitCallbacks(execute=True) - and
        # stays in run_on_commit: names added to it would never be applied.)
        if p is None or p.done or not _alive(conn, p):
            p = _Pending(conn.alias)
            pending[sids] = p
            transaction.on_commit(p, using=conn.alias, robust=True)
        p.names |= names
        return
    if _manual(conn):
        # Manual transaction management: replaced by the commit hook, dropped on rollback.
        conn.__dict__.setdefault(_MANUAL_ATTR, set()).update(names)
        return
    # Autocommit: the statement has committed.
    apply_invalidation(conn.alias, names)


def _alive(conn: BaseDatabaseWrapper, p: _Pending) -> bool:
    return any(item[1] is p for item in conn.run_on_commit)


def dirty() -> frozenset[str]:
    """Tokens that open transactions in this thread have written and not committed."""
    if not _maybe_dirty:
        return _CLEAN
    out: set[str] = set()
    for conn in connections.all(initialized_only=True):
        if id(conn) not in _maybe_dirty:
            continue
        manual: set[str] | None = conn.__dict__.get(_MANUAL_ATTR)
        if manual:
            out |= manual
        pending: dict[tuple[Any, ...], _Pending] | None = conn.__dict__.get(_PENDING_ATTR)
        if pending:
            live = {id(item[1]) for item in conn.run_on_commit}
            for sids, p in list(pending.items()):
                if id(p) in live and not p.done:
                    out |= p.names
                else:  # committed, or rolled back (with its savepoint)
                    del pending[sids]
        if not manual and not pending:
            _maybe_dirty.discard(id(conn))
    return frozenset(out)


# -- commit and rollback hooks ------------------------------------------------------------------
#
# Django has no hook for the COMMIT of a manually managed transaction (``on_commit`` raises
# outside ``atomic()`` when autocommit is off), so the connection's own ``commit``,
# ``rollback``, ``close`` and ``set_autocommit`` are wrapped, per connection object. Every COMMIT
# Django issues goes through ``commit()`` (``atomic()`` calls it too); switching autocommit
# back on commits an open transaction on SQLite and MySQL (PostgreSQL refuses to switch
# while one is open).


def _committed(conn: BaseDatabaseWrapper) -> None:
    """Replace what the transaction that just committed wrote. Never raises: the commit
    itself succeeded, and an exception here would make the caller think it had not."""
    # commit() and set_autocommit() run outside atomic(): nothing stays pending after them.
    names: set[str] = conn.__dict__.pop(_MANUAL_ATTR, None) or set()
    pending: dict[tuple[Any, ...], _Pending] = conn.__dict__.pop(_PENDING_ATTR, None) or {}
    _maybe_dirty.discard(id(conn))
    for p in pending.values():
        if not p.done and _alive(conn, p):
            p.done = True
            names |= p.names
    if not names:
        return
    try:
        apply_invalidation(conn.alias, names)
    except Exception:
        logger.exception("nexus_cache: invalidation after commit on %r failed", conn.alias)


def _rolled_back(conn: BaseDatabaseWrapper) -> None:
    conn.__dict__.pop(_MANUAL_ATTR, None)
    conn.__dict__.pop(_PENDING_ATTR, None)
    _maybe_dirty.discard(id(conn))


def _hook_transactions(conn: BaseDatabaseWrapper) -> None:
    if conn.__dict__.get("_nexus_cache_hooked"):
        return
    conn.__dict__["_nexus_cache_hooked"] = True
    commit, rollback, close, set_autocommit = conn.commit, conn.rollback, conn.close, conn.set_autocommit

    @functools.wraps(commit)
    def nexus_commit() -> None:
        commit()
        _committed(conn)

    @functools.wraps(rollback)
    def nexus_rollback() -> None:
        try:
            rollback()
        finally:
            _rolled_back(conn)

    @functools.wraps(close)
    def nexus_close() -> None:
        try:
            close()
        finally:
            # The server rolls back what a closed connection left open. (Django keeps an
            # in-memory SQLite database open through close(): its transaction lives on.)
            if conn.connection is None or conn.closed_in_transaction:
                _rolled_back(conn)

    @functools.wraps(set_autocommit)
    def nexus_set_autocommit(autocommit: bool, *args: Any, **kwargs: Any) -> None:
        set_autocommit(autocommit, *args, **kwargs)
        if autocommit:
            _committed(conn)

    conn.commit = nexus_commit  # type: ignore[method-assign]
    conn.rollback = nexus_rollback  # type: ignore[method-assign]
    conn.close = nexus_close  # type: ignore[method-assign]
    conn.set_autocommit = nexus_set_autocommit  # type: ignore[method-assign]


# -- dependency discovery -------------------------------------------------------------------


class Recorder:
    """Collects what one computation reads; reads each token before the statement runs."""

    def __init__(self, known: dict[str, int] | None = None, *, reading: bool = True) -> None:
        #: False for computations whose value will not be stored: no token is read.
        self.reading = reading
        self.values: dict[str, int] = dict(known or {})
        self.names: set[str] = set()
        self.failed = False
        self.wrote = False
        self.unsafe = False
        #: (insert-token name, number of row keys) of primary-key reads, in order.
        self.row_reads: list[tuple[str, int]] = []

    def need(self, names: Iterable[str]) -> None:
        names = set(names)
        self.names |= names
        if not self.reading:
            return
        missing = [n for n in names if n not in self.values]
        if not missing or self.failed:
            return
        try:
            self.values.update(_tokens.read(missing))
        except _store.CacheUnavailable:
            self.failed = True

    def on_read(self, conn: BaseDatabaseWrapper, stmt: _sql.Statement, params: Any, many: bool) -> None:
        ns = _tokens.namespace(conn.alias)
        names = {_tokens.epoch(ns)}
        rr = stmt.row_read
        keys = rr.keys(params, many) if rr is not None else None
        for t in stmt.tables:
            if rr is not None and keys is not None and t == rr.table:
                names.update(_tokens.row(ns, t, k) for k in keys)
                names.add(_tokens.bulk(ns, t))
                ins = _tokens.inserts(ns, t)
                names.add(ins)
                self.row_reads.append((ins, len(keys)))
            else:
                names.add(_tokens.table(ns, t))
        if stmt.opaque:
            names.add(_tokens.any_write(ns))
        if in_transaction(conn) and not _snapshot_per_statement(conn):
            self.unsafe = True
        self.need(names)

    def rows_found(self, count: int) -> None:
        """The first primary-key read found all its rows: inserts cannot change it."""
        if self.row_reads:
            ins, n = self.row_reads[0]
            if n == count and all(other != ins for other, _ in self.row_reads[1:]):
                self.names.discard(ins)


_current: contextvars.ContextVar[Recorder | None] = contextvars.ContextVar(
    "nexus_cache_recorder", default=None
)


def current() -> Recorder | None:
    return _current.get()


def recording(rec: Recorder | None) -> contextvars.Token[Recorder | None]:
    return _current.set(rec)


def stop_recording(token: contextvars.Token[Recorder | None]) -> None:
    _current.reset(token)


def _snapshot_per_statement(conn: BaseDatabaseWrapper) -> bool:
    """Whether a statement inside a transaction sees data committed before it started.

    PostgreSQL READ COMMITTED: yes. SQLite outside WAL mode: the transaction's shared lock
    keeps writers from committing while it lasts, which is as good. Anything else (MySQL's
    REPEATABLE READ, SERIALIZABLE, SQLite WAL) reads an older snapshot: values computed in
    a transaction there are served but never stored.
    """
    cached = conn.__dict__.get("_nexus_cache_snapshot_ok")
    if cached is not None:
        return bool(cached)
    ok = False
    if conn.vendor == "postgresql":
        level = getattr(conn, "isolation_level", None)
        # psycopg 3: IsolationLevel.READ_COMMITTED; psycopg2: ISOLATION_LEVEL_READ_COMMITTED == 1.
        name = getattr(level, "name", None)
        ok = level is None or name == "READ_COMMITTED" or (name is None and level == 1)
    elif conn.vendor == "sqlite":
        try:
            with _store.untracked():
                mode = conn.connection.execute("PRAGMA journal_mode").fetchone()[0]
            ok = str(mode).lower() != "wal"
        except Exception:  # pragma: no cover - defensive
            ok = False
    conn.__dict__["_nexus_cache_snapshot_ok"] = ok
    return ok


# -- the wrapper ------------------------------------------------------------------------------


def _execute_wrapper(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    if _store.internal():
        return execute(sql, params, many, context)
    if getattr(_deferred, "items", None):
        flush_deferred()
    rec = _current.get()
    if rec is None and _sql.is_plain_select(sql):
        return execute(sql, params, many, context)
    conn: BaseDatabaseWrapper = context["connection"]
    stmt = _sql.parse(sql, table_meta())
    if stmt.kind is _sql.Kind.READ:
        if rec is not None:
            rec.on_read(conn, stmt, params, many)
        return execute(sql, params, many, context)
    if stmt.kind is _sql.Kind.NEUTRAL:
        return execute(sql, params, many, context)
    if conn.vendor == "postgresql" and get_settings().TAG_HANDLED_WRITES:
        sql = tag_handled(sql, stmt)
    try:
        return execute(sql, params, many, context)
    finally:
        if rec is not None:
            rec.wrote = True
        names = write_names(_tokens.namespace(conn.alias), stmt, params, many)
        if names and not in_transaction(conn) and _statement_stays_open(conn, sql):
            _defer(conn, context.get("cursor"), names)
        else:
            register_write(conn, names)


#: Written into a SQL comment after write statements whose invalidation nexus-cache
#: handles itself: ``/*nexus_cache:table,table*/`` (``*`` when it replaces the database
#: epoch). contrib.postgres's trigger reads it with ``current_query()`` and sends no NOTIFY
#: for those tables: the execute wrapper already replaces their tokens at commit.
HANDLED_TAG = "nexus_cache:"
_TAGGABLE = re.compile(r"[A-Za-z0-9_$]+\Z")


def tag_handled(sql: str, stmt: _sql.Statement) -> str:
    """``sql`` with the handled-write comment, or unchanged when tagging could mislead.

    A statement with a ``;`` might be several statements, of which the parser saw the
    first: untagged, every trigger still notifies. The comment goes on a line of its own
    so that a trailing ``--`` comment cannot swallow it.
    """
    if ";" in sql:
        return sql
    if stmt.unknown_write:
        tables = "*"
    else:
        ignore = get_settings().IGNORE_TABLES
        names = sorted({w.table for w in stmt.writes if w.table not in ignore})
        if not names or not all(_TAGGABLE.match(n) for n in names):
            return sql
        tables = ",".join(names)
    return f"{sql}\n/*{HANDLED_TAG}{tables}*/"


# SQLite runs ``INSERT ... RETURNING`` step by step while its rows are fetched, inside an
# implicit transaction; a database-cache write on the same connection in between would
# end that transaction early. There (only) the token replacement waits for the cursor to
# close, or for the next statement, whichever comes first.
_deferred = threading.local()


def _statement_stays_open(conn: BaseDatabaseWrapper, sql: str) -> bool:
    if conn.vendor != "sqlite" or "RETURNING" not in sql.upper():
        return False
    backend = _store.cache()
    from django.core.cache.backends.db import DatabaseCache

    return isinstance(backend, DatabaseCache)


def _defer(conn: BaseDatabaseWrapper, cursor: Any, names: set[str]) -> None:
    pending: list[tuple[BaseDatabaseWrapper, set[str]]] = getattr(_deferred, "items", None) or []
    pending.append((conn, names))
    _deferred.items = pending
    if cursor is not None and "close" not in cursor.__dict__:
        original = cursor.close

        def close() -> None:
            try:
                original()
            finally:
                flush_deferred()

        cursor.close = close


def flush_deferred() -> None:
    items: list[tuple[BaseDatabaseWrapper, set[str]]] | None = getattr(_deferred, "items", None)
    if not items:
        return
    _deferred.items = []
    for conn, names in items:
        register_write(conn, names)


def install(conn: BaseDatabaseWrapper) -> None:
    # At the front of the list: Django's execute_wrapper() context manager pops the last
    # wrapper on exit, which must stay the user's own.
    if _execute_wrapper not in conn.execute_wrappers:
        conn.execute_wrappers.insert(0, _execute_wrapper)
    _hook_transactions(conn)


def _on_connection_created(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    install(connection)


def install_all() -> None:
    connection_created.connect(_on_connection_created, dispatch_uid="nexus_cache.install")
    for conn in connections.all(initialized_only=True):
        install(conn)


__all__ = [
    "Recorder",
    "apply_invalidation",
    "current",
    "dirty",
    "install",
    "install_all",
    "recording",
    "register_write",
    "stop_recording",
    "table_meta",
    "write_names",
]
