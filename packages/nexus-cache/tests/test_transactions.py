"""Commit ordering, rollback, read-your-own-writes, savepoints, forced interleavings."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test import override_settings

from nexus_cache import cached
from nexus_cache.signals import invalidated

from tests.helpers import no_queries, queries
from tests.models import Host, Listing

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])

TIMEOUT = 10


def prices() -> list[int]:
    return [x.price for x in Listing.objects.cached(timeout=60).order_by("id")]


def in_thread(target: Callable[[], Any]) -> threading.Thread:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            raise
        finally:
            connections.close_all()

    t = threading.Thread(target=run, daemon=True)
    t._nx_errors = errors  # type: ignore[attr-defined]
    t.start()
    return t


def join(t: threading.Thread) -> None:
    t.join(TIMEOUT)
    assert not t.is_alive(), "thread hung"
    assert not t._nx_errors, t._nx_errors  # type: ignore[attr-defined]


@pytest.mark.requires_postgres
def test_reader_selects_writer_commits_reader_stores_next_read_is_fresh() -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    selected, committed = threading.Event(), threading.Event()

    @cached(timeout=60)
    def snapshot() -> list[int]:
        rows = [x.price for x in Listing.objects.order_by("id")]
        selected.set()  # the reader has its (old) rows ...
        assert committed.wait(TIMEOUT)  # ... the writer commits before it stores them
        return rows

    reader_result: list[list[int]] = []
    reader = in_thread(lambda: reader_result.append(snapshot()))
    assert selected.wait(TIMEOUT)

    def write() -> None:
        Listing.objects.filter(pk=a.pk).update(price=2)
        committed.set()

    join(in_thread(write))
    join(reader)
    assert reader_result == [[1]]  # it computed the old value and stored it under the old token
    committed.set()
    assert snapshot() == [2]  # never served


@pytest.mark.requires_postgres
def test_queryset_reader_selects_writer_commits_reader_stores() -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    selected, committed = threading.Event(), threading.Event()

    def pause_after_select(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        if "tests_listing" in sql and sql.lstrip().upper().startswith("SELECT"):
            selected.set()
            assert committed.wait(TIMEOUT)
        return result

    def reader() -> None:
        with connection.execute_wrapper(pause_after_select):
            assert prices() == [1]

    r = in_thread(reader)
    assert selected.wait(TIMEOUT)
    a.price = 2
    a.save()  # autocommit: committed, tokens replaced
    committed.set()
    join(r)
    assert prices() == [2]


@pytest.mark.requires_postgres
def test_writer_in_atomic_reader_caches_then_writer_commits() -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    updated, reader_done = threading.Event(), threading.Event()

    def writer() -> None:
        with transaction.atomic():
            Listing.objects.filter(pk=a.pk).update(price=2)
            updated.set()
            assert reader_done.wait(TIMEOUT)

    w = in_thread(writer)
    assert updated.wait(TIMEOUT)
    assert prices() == [1]  # the uncommitted write is invisible here; cached under the old token
    with no_queries():
        assert prices() == [1]
    reader_done.set()
    join(w)
    assert prices() == [2]


def test_rollback_leaves_valid_entries_valid() -> None:
    Listing.objects.create(city="Lagos", price=1)
    assert prices() == [1]
    seen: list[list[int]] = []

    def write_then_fail() -> None:
        with transaction.atomic():
            Listing.objects.update(price=5)
            seen.append(prices())  # read-your-own-writes inside the transaction
            raise RuntimeError

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert seen == [[5]]
    with no_queries():
        assert prices() == [1]


def test_read_your_own_writes_bypasses_and_never_stores() -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    assert prices() == [1]
    with transaction.atomic():
        a.price = 3
        a.save()
        with queries() as ctx:
            assert prices() == [3]
        assert len(ctx) == 1
        # Tables the transaction did not write are still served from the cache.
        assert [h.name for h in Host.objects.cached()] == []
        with no_queries():
            assert [h.name for h in Host.objects.cached()] == []
    assert prices() == [3]


def test_savepoint_rollback_drops_only_its_invalidations() -> None:
    Listing.objects.create(city="Lagos", price=1)
    Host.objects.create(name="Ada")
    assert prices() == [1]
    assert [h.name for h in Host.objects.cached()] == ["Ada"]
    with transaction.atomic():
        Host.objects.update(name="Bola")
        try:
            with transaction.atomic():
                Listing.objects.update(price=9)
                raise ValueError
        except ValueError:
            pass
        with no_queries():  # the rolled-back savepoint's table is clean again
            assert prices() == [1]
    with no_queries():
        assert prices() == [1]
    assert [h.name for h in Host.objects.cached()] == ["Bola"]


def test_invalidation_runs_on_commit_of_the_right_alias() -> None:
    seen: list[frozenset[str]] = []

    def receiver(sender: Any, alias: str | None, tokens: frozenset[str], **kw: Any) -> None:
        seen.append(tokens)

    invalidated.connect(receiver)
    try:
        with transaction.atomic(using="default"):
            Listing.objects.create(city="Lagos")
            assert seen == []  # not before commit
        assert any("default|T|tests_listing" in t for t in seen)
    finally:
        invalidated.disconnect(receiver)


def test_replica_reads_are_invalidated_by_primary_writes() -> None:
    a = Listing.objects.create(city="Lagos", price=1)

    def replica_prices() -> list[int]:
        return [x.price for x in Listing.objects.using("replica").cached().order_by("id")]

    assert replica_prices() == [1]
    with no_queries():
        assert replica_prices() == [1]
    a.price = 2
    a.save(using="default")
    assert replica_prices() == [2]


def test_replica_lag_guard_replaces_tokens_again_later() -> None:
    fired = threading.Event()
    calls: list[str | None] = []

    def receiver(sender: Any, alias: str | None, tokens: frozenset[str], **kw: Any) -> None:
        calls.append(alias)
        if len(calls) == 2:
            fired.set()

    invalidated.connect(receiver)
    try:
        with override_settings(NEXUS_CACHE={"REPLICA_LAG_GUARD": 0.05}):
            Host.objects.create(name="Ada")
            assert fired.wait(5)
    finally:
        invalidated.disconnect(receiver)
    assert calls[:2] == ["default", "default"]


def test_computation_that_writes_is_not_stored() -> None:
    calls: list[int] = []

    @cached(timeout=60)
    def get_or_make() -> str:
        calls.append(1)
        host, _ = Host.objects.get_or_create(name="Ada")
        return host.name

    assert get_or_make() == "Ada"
    assert get_or_make() == "Ada"
    # The first run wrote, so it was not stored; the second only read, and was.
    assert get_or_make() == "Ada"
    assert len(calls) == 2


def test_dirty_reads_bypass_without_taking_the_stampede_lock() -> None:
    from nexus_cache import _core, _store

    Listing.objects.create(city="Lagos", price=1)
    qs = Listing.objects.cached().order_by("id")
    assert [x.price for x in qs] == [1]
    key = qs.cache_key()
    assert key is not None
    with transaction.atomic():
        Listing.objects.update(price=2)
        assert prices() == [2]
        assert _store.cache().get(_core._lock_key(key)) is None
    assert prices() == [2]


class _FakeConnection:
    def __init__(self, vendor: str, level: Any = None, journal: str = "delete") -> None:
        self.vendor = vendor
        self.isolation_level = level
        self.in_atomic_block = True
        self.alias = "default"
        journal_mode = journal

        class Raw:
            def execute(self, sql: str) -> Any:
                class Cursor:
                    def fetchone(self) -> tuple[str]:
                        return (journal_mode,)

                return Cursor()

        self.connection = Raw()


@pytest.mark.parametrize(
    ("conn", "stores"),
    [
        (_FakeConnection("postgresql", None), True),
        (_FakeConnection("postgresql", 1), True),  # psycopg2 READ COMMITTED
        (_FakeConnection("postgresql", 3), False),  # psycopg2 REPEATABLE READ
        (_FakeConnection("sqlite", journal="delete"), True),
        (_FakeConnection("sqlite", journal="wal"), False),
        (_FakeConnection("mysql"), False),
    ],
)
def test_values_computed_in_snapshot_transactions_are_not_stored(conn: Any, stores: bool) -> None:
    from nexus_cache import _tracking

    assert _tracking._snapshot_per_statement(conn) is stores
    if conn.vendor == "postgresql":
        import psycopg

        named = _FakeConnection("postgresql", psycopg.IsolationLevel.REPEATABLE_READ)
        assert _tracking._snapshot_per_statement(named) is False
        ok = _FakeConnection("postgresql", psycopg.IsolationLevel.READ_COMMITTED)
        assert _tracking._snapshot_per_statement(ok) is True


def test_reads_under_a_transaction_snapshot_are_served_but_not_stored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nexus_cache import _tracking

    Listing.objects.create(city="Lagos", price=1)
    monkeypatch.setattr(_tracking, "_snapshot_per_statement", lambda conn: False)
    with transaction.atomic():
        assert prices() == [1]
        with queries() as ctx:
            assert prices() == [1]
        assert len(ctx) == 1
    assert prices() == [1]  # outside the transaction: stored
    with no_queries():
        assert prices() == [1]


@pytest.fixture
def invalidations() -> Any:
    seen: list[frozenset[str]] = []

    def receiver(sender: Any, alias: str | None, tokens: frozenset[str], **kw: Any) -> None:
        seen.append(tokens)

    invalidated.connect(receiver)
    yield seen
    invalidated.disconnect(receiver)


@pytest.fixture
def manual() -> Any:
    """Manual transaction management on the default connection, always switched back."""
    transaction.set_autocommit(False)
    try:
        yield connection
    finally:
        if not connection.get_autocommit():
            connection.rollback()
            transaction.set_autocommit(True)


def test_manual_transaction_replaces_tokens_after_the_real_commit(manual: Any, invalidations: Any) -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    manual.commit()
    invalidations.clear()
    assert prices() == [1]
    assert [h.name for h in Host.objects.cached()] == []
    Listing.objects.filter(pk=a.pk).update(price=2)
    assert invalidations == []  # not before the COMMIT
    with queries() as ctx:
        assert prices() == [2]  # read-your-own-writes: bypassed, not stored
    assert len(ctx) == 1
    with no_queries():  # tables it did not write are still served
        assert [h.name for h in Host.objects.cached()] == []
    manual.commit()
    assert any("default|T|tests_listing" in t for t in invalidations)
    assert prices() == [2]
    with no_queries():
        assert prices() == [2]


def test_manual_transaction_rollback_drops_the_invalidation(manual: Any, invalidations: Any) -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    manual.commit()
    assert prices() == [1]
    invalidations.clear()
    Listing.objects.filter(pk=a.pk).update(price=2)
    manual.rollback()
    assert invalidations == []
    with no_queries():
        assert prices() == [1]  # still valid: the write never happened
    Listing.objects.filter(pk=a.pk).update(price=3)
    manual.commit()
    assert prices() == [3]


def test_atomic_inside_manual_transaction_waits_for_the_commit(manual: Any, invalidations: Any) -> None:
    Listing.objects.create(city="Lagos", price=1)
    Host.objects.create(name="Ada")
    manual.commit()
    invalidations.clear()
    assert prices() == [1]
    with transaction.atomic():
        Listing.objects.update(price=2)
        try:
            with transaction.atomic():
                Host.objects.update(name="Bola")
                raise ValueError
        except ValueError:
            pass
    # The block ended without committing (autocommit is off): still pending, still dirty.
    assert invalidations == []
    with queries() as ctx:
        assert prices() == [2]
    assert len(ctx) == 1
    manual.commit()
    [tokens] = invalidations
    assert "default|T|tests_listing" in tokens
    assert "default|T|tests_host" not in tokens  # its savepoint was rolled back
    assert prices() == [2]


def test_invalidate_inside_manual_transaction_waits_for_the_commit(manual: Any, invalidations: Any) -> None:
    from nexus_cache import invalidate

    Listing.objects.create(city="Lagos", price=1)
    manual.commit()
    invalidations.clear()
    invalidate(Listing)
    assert invalidations == []
    manual.commit()
    assert len(invalidations) == 1


@pytest.mark.requires_postgres
def test_manual_transaction_reader_caches_before_the_commit_then_fresh() -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    updated, reader_done = threading.Event(), threading.Event()

    def writer() -> None:
        transaction.set_autocommit(False)
        try:
            Listing.objects.filter(pk=a.pk).update(price=2)
            updated.set()
            assert reader_done.wait(TIMEOUT)
            transaction.commit()
        finally:
            transaction.set_autocommit(True)

    w = in_thread(writer)
    assert updated.wait(TIMEOUT)
    assert prices() == [1]  # the uncommitted write is invisible; stored under the old token
    with no_queries():
        assert prices() == [1]
    reader_done.set()
    join(w)
    assert prices() == [2]  # the token changed after the COMMIT: never served stale


def test_switching_autocommit_back_on_commits_on_sqlite(invalidations: Any) -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    assert prices() == [1]
    invalidations.clear()
    transaction.set_autocommit(False)
    Listing.objects.filter(pk=a.pk).update(price=2)
    if connection.vendor == "postgresql":
        # PostgreSQL refuses to switch with a transaction open: nothing was committed.
        with pytest.raises(Exception, match="autocommit"):
            transaction.set_autocommit(True)
        assert invalidations == []
        connection.commit()
        transaction.set_autocommit(True)
    else:
        # SQLite (and MySQL) commit the open transaction when autocommit comes back on.
        transaction.set_autocommit(True)
    assert len(invalidations) == 1
    assert prices() == [2]


def test_reconnect_forgets_what_the_closed_transaction_wrote(invalidations: Any) -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    assert prices() == [1]
    invalidations.clear()
    transaction.set_autocommit(False)
    Listing.objects.filter(pk=a.pk).update(price=2)
    connection.close()  # the server rolls the transaction back
    if connection.connection is not None:
        # Django never closes an in-memory SQLite database (that would lose it): the
        # transaction is still open, and so is its invalidation.
        assert invalidations == []
        connection.commit()
        transaction.set_autocommit(True)
        assert len(invalidations) == 1
        assert prices() == [2]
        return
    connection.ensure_connection()
    assert connection.get_autocommit()
    with no_queries():
        assert prices() == [1]
    assert invalidations == []
