"""Unique keys other than "all the arguments", in-process (database store, no broker)."""

from __future__ import annotations

import pytest
from celery.exceptions import TimeLimitExceeded
from celery.signals import task_failure

from nexus_tasks import task
from nexus_tasks._store import get_store
from nexus_tasks._task import unique_lock_key
from nexus_tasks.testing import capture_tasks

pytestmark = pytest.mark.django_db(transaction=True)


@task(unique=True, unique_key=lambda booking_id, note="": f"booking:{booking_id}")
def by_callable(booking_id: int, note: str = "") -> int:
    return booking_id


@task(unique=True, unique_key="booking:{booking_id}")
def by_template(booking_id: int, note: str = "") -> int:
    return booking_id


@task(unique=True, unique_key="nightly-report")
def by_fixed_text(day: str) -> str:
    return day


@task
def not_unique(tag: str) -> str:
    return tag


@pytest.mark.parametrize("declared", [by_callable, by_template], ids=["callable", "template"])
def test_declared_key_ignores_the_other_arguments(declared) -> None:  # type: ignore[no-untyped-def]
    with capture_tasks() as captured:
        first = declared.enqueue(1, note="a")
        again = declared.enqueue(1, "b")  # positional or keyword: the same key
        other = declared.enqueue(2, note="a")
    assert again.id == first.id
    assert other.id != first.id
    assert [t.id for t in captured] == [first.id, other.id]
    key = unique_lock_key(declared.name, [], {}, "booking:1")
    assert get_store().get(key, "default") == first.id  # held until the task ends
    captured.run(store_results=False)
    assert get_store().get(key, "default") is None  # released on success


def test_fixed_text_is_one_key_for_every_call() -> None:
    with capture_tasks() as captured:
        first = by_fixed_text.enqueue("2026-01-01")
        assert by_fixed_text.enqueue("2026-01-02").id == first.id
    assert len(captured) == 1


def test_enqueue_with_unique_key_makes_one_call_unique() -> None:
    with capture_tasks() as captured:
        first = not_unique.enqueue_with(args=("a",), unique_key="only-one")
        assert not_unique.enqueue_with(args=("b",), unique_key="only-one").id == first.id
        not_unique.enqueue("c")
        not_unique.enqueue("c")  # not unique without a key
    assert len(captured) == 3


def test_unique_key_must_be_text_or_callable() -> None:
    with pytest.raises(TypeError, match="callable of the task's arguments or a str"):

        @task(unique=True, unique_key=42)
        def wrong(x: int) -> None: ...


def test_a_time_limit_kill_releases_the_declared_key() -> None:
    """What the worker's main process reports after a hard time-limit kill: the body never
    released its lock, the ``task_failure`` signal does (owner-checked)."""
    key = unique_lock_key(by_callable.name, [], {}, "booking:5")
    store = get_store()
    assert store.acquire(key, "killed-id", "killed-id", 600, "default") is None
    exc = TimeLimitExceeded(1)
    task_failure.send(sender=by_callable, task_id="someone-else", exception=exc, args=[5], kwargs={})
    assert store.get(key, "default") == "killed-id"  # not the owner: kept
    task_failure.send(sender=by_callable, task_id="killed-id", exception=RuntimeError(), args=[5], kwargs={})
    assert store.get(key, "default") == "killed-id"  # an ordinary failure released it in the body
    task_failure.send(sender=by_callable, task_id="killed-id", exception=exc, args=[5], kwargs={})
    assert store.get(key, "default") is None
