"""Writes from outside Django: NOTIFY triggers and the listener, with a separate psycopg connection."""

from __future__ import annotations

import io
import threading
import time

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from nexus_cache import stats
from nexus_cache.contrib.postgres import InstallNotifyTriggers, drop_triggers, install_triggers, listen

from tests.helpers import no_queries
from tests.models import Listing

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
