"""Small helpers shared by the test modules."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection
from django.test.utils import CaptureQueriesContext


@contextmanager
def no_queries() -> Iterator[None]:
    """Assert the block ran no SQL at all (a cache hit)."""
    with CaptureQueriesContext(connection) as ctx:
        yield
    # The database cache backend's own statements are cache round trips, not source reads.
    source = [q["sql"] for q in ctx.captured_queries if "nexus_cache_test_table" not in q["sql"]]
    assert source == [], source


@contextmanager
def queries() -> Iterator[CaptureQueriesContext]:
    with CaptureQueriesContext(connection) as ctx:
        yield ctx
