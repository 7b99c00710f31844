"""Stampede protection: one computes, others wait (bounded); dead winners never block."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.cache import close_caches
from django.test import override_settings

from nexus_cache import _core, _store, cached, stats

STAMPEDE_BACKENDS = [
    pytest.param("default", id="locmem"),
    pytest.param("redis", id="redis", marks=pytest.mark.requires_redis),
    pytest.param("memcached", id="memcached", marks=pytest.mark.requires_memcached),
]


@pytest.mark.parametrize("backend", STAMPEDE_BACKENDS, indirect=True)
def test_fifty_concurrent_misses_compute_once(backend: str) -> None:
    runs: list[int] = []
    lock = threading.Lock()

    @cached(timeout=60)
    def slow(x: int) -> int:
        with lock:
            runs.append(x)
        time.sleep(0.3)
        return x * 2

    barrier = threading.Barrier(50)
    results: list[int] = []

    def worker() -> None:
        try:
            barrier.wait()
            value = slow(21)
            with lock:
                results.append(value)
        finally:
            close_caches()  # this thread's cache connections (memcached clients are per thread)

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert results == [42] * 50
    assert len(runs) == 1
    assert stats()["stampede_waits"] >= 1


def test_dead_winner_never_blocks() -> None:
    runs: list[int] = []

    @cached(timeout=60)
    def value() -> int:
        runs.append(1)
        return 7

    with override_settings(NEXUS_CACHE={"STAMPEDE_LOCK_TIMEOUT": 0.3}):
        # A winner that took the lock and died: its lock is never released.
        _store.cache().add(_core._lock_key(value.key()), "dead-process", 60)
        started = time.monotonic()
        assert value() == 7
        assert time.monotonic() - started < 2
    assert runs == [1]


def test_failing_winner_releases_waiters_at_once() -> None:
    entered, waiting = threading.Event(), threading.Event()
    calls: list[str] = []

    @cached(timeout=60)
    def flaky() -> str:
        if not calls:
            calls.append("fail")
            entered.set()
            assert waiting.wait(5)
            time.sleep(0.05)
            raise RuntimeError("winner failed")
        calls.append("ok")
        return "ok"

    errors: list[BaseException] = []

    def winner() -> None:
        try:
            flaky()
        except RuntimeError as exc:
            errors.append(exc)

    with override_settings(NEXUS_CACHE={"STAMPEDE_LOCK_TIMEOUT": 30}):
        t = threading.Thread(target=winner)
        t.start()
        assert entered.wait(5)
        waiting.set()
        started = time.monotonic()
        assert flaky() == "ok"
        assert time.monotonic() - started < 5  # far below the 30 s lock timeout
        t.join(5)
    assert len(errors) == 1
    assert calls == ["fail", "ok"]


def test_stale_while_revalidate_serves_bounded_stale_values() -> None:
    version = {"v": 1}

    @cached(timeout=60, stale=30)
    def value() -> int:
        return version["v"]

    assert value() == 1
    value.invalidate()
    version["v"] = 2
    # Another process is recomputing (it holds the lock): we get the stale value at once.
    _store.cache().add(_core._lock_key(value.key()), "someone-else", 60)
    assert value() == 1
    assert stats()["stale_served"] == 1
    _store.cache().delete(_core._lock_key(value.key()))
    assert value() == 2


def test_stale_values_older_than_the_bound_are_not_served() -> None:
    version = {"v": 1}

    @cached(timeout=60, stale=0.05)
    def value() -> int:
        return version["v"]

    assert value() == 1
    value.invalidate()
    version["v"] = 2
    time.sleep(0.1)
    with override_settings(NEXUS_CACHE={"STAMPEDE_LOCK_TIMEOUT": 0.2}):
        _store.cache().add(_core._lock_key(value.key()), "someone-else", 60)
        assert value() == 2


def test_probabilistic_early_recompute() -> None:
    runs: list[int] = []

    @cached(timeout=60, early=1e12)  # so large that every hit recomputes early
    def value() -> int:
        runs.append(1)
        return len(runs)

    assert value() == 1
    assert value() == 2
    runs.clear()

    @cached(timeout=60, early=1e-12)  # so small that it never does
    def other() -> int:
        runs.append(1)
        return len(runs)

    assert other() == 1
    assert other() == 1


def test_without_stampede_protection() -> None:
    runs: list[int] = []

    @cached(timeout=60)
    def value() -> int:
        runs.append(1)
        return 1

    with override_settings(NEXUS_CACHE={"STAMPEDE_PROTECTION": False}):
        assert value() == 1
        assert value() == 1
    assert runs == [1]
