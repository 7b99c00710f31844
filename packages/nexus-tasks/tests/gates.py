"""Gates: a test decides when a task running on a worker goes on.

A gated task counts its run (``<tag>:runs``) and then waits until the test opens the gate
(``<tag>:go``), both in Redis, which the test process and the worker subprocess share.
So the test acts on a task it knows is mid-run — kills its worker, enqueues a duplicate,
reads its progress — with no window to hit or miss. A gate left closed still opens by
itself after ``MAX_WAIT`` seconds, and the ``gate`` fixture opens it when its test ends, so
a redelivered leftover never holds up a later test's worker.
"""

from __future__ import annotations

import time

import redis

from nexus_testing import redis_url

#: Longest a gated task waits for a test that never opens its gate.
MAX_WAIT = 60.0


def _client() -> redis.Redis:
    return redis.Redis.from_url(redis_url())


def wait_at_gate(tag: str) -> None:
    """Called by a task: count this run, then wait for the test to open the gate."""
    client = _client()
    try:
        client.incr(f"{tag}:runs")
        client.expire(f"{tag}:runs", 300)
        deadline = time.monotonic() + MAX_WAIT
        while not client.exists(f"{tag}:go") and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        client.close()


class Gate:
    """The test's side of a gate for the tasks tagged ``tag``."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def runs(self) -> int:
        """How many runs (deliveries) reached the gate so far."""
        client = _client()
        try:
            return int(client.get(f"{self.tag}:runs") or 0)
        finally:
            client.close()

    def open(self) -> None:
        client = _client()
        try:
            client.set(f"{self.tag}:go", "1", ex=300)
        finally:
            client.close()
