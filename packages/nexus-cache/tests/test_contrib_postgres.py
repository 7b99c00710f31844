"""Writes from outside Django: NOTIFY triggers and the listener, with a separate psycopg connection."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import override_settings

from nexus_cache import stats
from nexus_cache.contrib.postgres import (
    InstallNotifyTriggers,
    drop_triggers,
    install_triggers,
    listen,
    table_names,
)
from nexus_cache.signals import invalidated

from tests.helpers import no_queries
from tests.models import Host, Listing

pytestmark = [pytest.mark.requires_postgres, pytest.mark.django_db(transaction=True)]


def outside_write(sql: str) -> None:
    """A write no Django connection sees: another program on the same database."""
    s = connection.settings_dict
    with psycopg.connect(
        dbname=s["NAME"],
        user=s["USER"],
        password=s["PASSWORD"] or None,
        host=s["HOST"],
        port=s["PORT"],
        autocommit=True,
    ) as other:
        other.execute(sql)


def prices() -> list[int]:
    return [x.price for x in Listing.objects.cached(timeout=60).order_by("id")]


def test_write_from_another_connection_is_seen_through_notify() -> None:
    assert install_triggers("default", [Listing]) == ["tests_listing"]
    Listing.objects.create(city="Lagos", price=1)
    assert prices() == [1]
    stop, ready = threading.Event(), threading.Event()
    counted: list[int] = []
    listener = threading.Thread(target=lambda: counted.append(listen("default", stop=stop, ready=ready)))
    listener.start()
    try:
        assert ready.wait(5)
        outside_write("UPDATE tests_listing SET price = 2")
        deadline = time.monotonic() + 5
        while prices() != [2] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert prices() == [2]
        with no_queries():
            assert prices() == [2]
    finally:
        stop.set()
        listener.join(5)
        drop_triggers("default", [Listing])
    assert counted[0] >= 1
    assert stats()["invalidations"] >= 1


def test_without_the_listener_an_outside_write_is_invisible() -> None:
    # The reason contrib.postgres exists: no execute_wrapper sees this write.
    Listing.objects.create(city="Lagos", price=1)
    assert prices() == [1]
    outside_write("UPDATE tests_listing SET price = 2")
    assert prices() == [1]


def test_command_and_migration_operation() -> None:
    out = io.StringIO()
    call_command("nexus_cache", "install_triggers", "tests.Listing", stdout=out)
    assert "installed on 1 table(s): tests_listing" in out.getvalue()
    call_command("nexus_cache", "install_triggers", "--drop", "tests.Listing", stdout=out)
    assert "removed from" in out.getvalue()
    call_command("nexus_cache", "listen", "--timeout", "0.2", stdout=out)
    assert "stopped after 0 notification(s)" in out.getvalue()

    op = InstallNotifyTriggers(["tests.Listing"])
    assert op.deconstruct() == ("nexus_cache.contrib.postgres.InstallNotifyTriggers", [["tests.Listing"]], {})
    assert op.describe()
    with connection.schema_editor() as editor:
        op.database_forwards("tests", editor, None, None)
        op.database_backwards("tests", editor, None, None)
    op.state_forwards("tests", None)


class Listener:
    """A running listener plus the invalidations it applied (signals sent from its thread)."""

    def __init__(self) -> None:
        self.signals: list[frozenset[str]] = []
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def receive(self, sender: Any, alias: str | None, tokens: frozenset[str], **kw: Any) -> None:
        if threading.current_thread() is self.thread:
            with self.lock:
                self.signals.append(tokens)

    def table_wide(self, table: str) -> int:
        """How many notifications for ``table`` the listener applied."""
        wanted = frozenset(table_names("default", table))
        with self.lock:
            return sum(1 for t in self.signals if t == wanted)

    def wait_for(self, table: str, count: int = 1) -> None:
        deadline = time.monotonic() + 5
        while self.table_wide(table) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.table_wide(table) >= count, self.signals


@pytest.fixture
def listener() -> Iterator[Listener]:
    install_triggers("default", [Listing, Host])
    seen = Listener()
    invalidated.connect(seen.receive)
    stop, ready = threading.Event(), threading.Event()
    thread = threading.Thread(target=listen, args=("default",), kwargs={"stop": stop, "ready": ready})
    seen.thread = thread
    thread.start()
    try:
        assert ready.wait(5)
        yield seen
    finally:
        stop.set()
        thread.join(5)
        invalidated.disconnect(seen.receive)
        drop_triggers("default", [Listing, Host])


def test_django_writes_are_not_invalidated_twice(listener: Listener) -> None:
    a = Listing.objects.create(city="Lagos", price=1)  # INSERT, autocommit
    a.price = 2
    a.save()  # UPDATE by primary key
    with transaction.atomic():
        Listing.objects.filter(city="Lagos").update(price=3)
        Listing.objects.bulk_create([Listing(city="Kano"), Listing(city="Jos")])
    Listing.objects.filter(city="Jos").delete()
    # Notifications arrive in commit order: once the outside write to another table has
    # been applied, a NOTIFY for any of the Django writes above would have been applied too.
    outside_write("INSERT INTO tests_host (name) VALUES ('outside')")
    listener.wait_for("tests_host")
    assert listener.table_wide("tests_listing") == 0
    assert prices() == [3, 0]


def test_outside_writes_still_invalidate_through_the_listener(listener: Listener) -> None:
    Listing.objects.create(city="Lagos", price=1)
    assert prices() == [1]
    outside_write("UPDATE tests_listing SET price = 5")
    listener.wait_for("tests_listing")
    assert prices() == [5]


def test_a_function_that_writes_still_notifies(listener: Listener) -> None:
    Listing.objects.create(city="Lagos", price=1)
    assert prices() == [1]
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE OR REPLACE FUNCTION nexus_cache_test_bump() RETURNS integer LANGUAGE sql AS "
            "$f$ UPDATE tests_listing SET price = price + 1 RETURNING 1 $f$"
        )
    try:
        with connection.cursor() as cursor:
            # A read as far as the execute wrapper can tell: only the trigger sees the write.
            cursor.execute("SELECT nexus_cache_test_bump()")
        listener.wait_for("tests_listing")
        assert prices() == [2]
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP FUNCTION nexus_cache_test_bump()")


def test_untagged_django_writes_notify(listener: Listener) -> None:
    with override_settings(NEXUS_CACHE={"TAG_HANDLED_WRITES": False}):
        Listing.objects.create(city="Lagos", price=1)
    listener.wait_for("tests_listing")
