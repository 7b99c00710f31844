"""Unique locks and idempotency records on both stores, in-process against real services."""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Iterator

import pytest
from django.db import connection, transaction
from django.utils import timezone

from nexus_tasks._store import DatabaseStore, RedisStore, get_store
from nexus_tasks._task import unique_lock_key
from nexus_tasks.models import StoreEntry
from nexus_testing import redis_url

from tests.models import Event
from tests.tasks import idempotent_record, unique_slow


@pytest.fixture(params=["database", pytest.param("redis", marks=pytest.mark.requires_redis)])
def store_name(
    request: pytest.FixtureRequest, settings, unique_namespace: str, transactional_db
) -> Iterator[str]:  # type: ignore[no-untyped-def]
    settings.NEXUS_TASKS = {
        **settings.NEXUS_TASKS,
        "STORE": request.param,
        "KEY_PREFIX": f"{unique_namespace}:nx",
    }
    yield request.param
    if request.param == "redis":
        store = get_store()
        assert isinstance(store, RedisStore)
        for key in store.client.scan_iter(match=f"{unique_namespace}:*"):
            store.client.delete(key)


def test_only_the_owner_releases_or_renews(store_name: str) -> None:
    store = get_store()
    assert store.acquire("unique:t:k", "owner-a", "owner-a", 30, "default") is None
    assert store.acquire("unique:t:k", "owner-b", "owner-b", 30, "default") == "owner-a"
    assert store.release("unique:t:k", "owner-b", "default") is False
    assert store.renew("unique:t:k", "owner-b", 30, "default") is False
    assert store.get("unique:t:k", "default") == "owner-a"
    assert store.renew("unique:t:k", "owner-a", 30, "default") is True
    assert store.release("unique:t:k", "owner-a", "default") is True
    assert store.get("unique:t:k", "default") is None


def test_expired_lock_is_taken_over_and_the_old_owner_cannot_release_it(store_name: str) -> None:
    store = get_store()
    assert store.acquire("unique:t:x", "old", "old", 0.2, "default") is None
    time.sleep(0.3)
    assert store.acquire("unique:t:x", "new", "new", 30, "default") is None
    assert store.release("unique:t:x", "old", "default") is False
    assert store.get("unique:t:x", "default") == "new"
    assert store.count("unique:", "default") == 1


def test_rollback_releases_the_unique_lock(store_name: str, redis_broker: str) -> None:
    key = unique_lock_key(unique_slow.name, ["rb", 0.0], {}, None)
    try:
        with transaction.atomic():
            first = unique_slow.enqueue("rb", 0.0)
            assert get_store().get(key, "default") == first.id
            raise RuntimeError
    except RuntimeError:
        pass
    assert get_store().get(key, "default") is None


def test_savepoint_rollback_releases_only_its_own_lock(store_name: str, redis_broker: str) -> None:
    outer_key = unique_lock_key(unique_slow.name, ["outer", 0.0], {}, None)
    inner_key = unique_lock_key(unique_slow.name, ["inner", 0.0], {}, None)
    from nexus_tasks import _dispatch

    sent: list[str] = []
    _dispatch._interceptors.append(lambda m: sent.append(m.task_id) or True)
    try:
        with transaction.atomic():
            outer = unique_slow.enqueue("outer", 0.0)
            try:
                with transaction.atomic():
                    unique_slow.enqueue("inner", 0.0)
                    raise RuntimeError
            except RuntimeError:
                pass
            assert get_store().get(inner_key, "default") is None
        assert get_store().get(outer_key, "default") == outer.id
        assert sent == [outer.id]
    finally:
        _dispatch._interceptors.clear()


def test_concurrent_enqueues_of_one_unique_task_send_one_message(store_name: str, redis_broker: str) -> None:
    from nexus_tasks import _dispatch

    sent: list[str] = []
    lock = threading.Lock()

    def intercept(message) -> bool:  # type: ignore[no-untyped-def]
        with lock:
            sent.append(message.task_id)
        return True

    _dispatch._interceptors.append(intercept)
    barrier = threading.Barrier(4)
    ids: list[str] = []

    def enqueue() -> None:
        barrier.wait()
        with transaction.atomic():
            ids.append(unique_slow.enqueue("same", 1.0).id)
        connection.close()

    try:
        threads = [threading.Thread(target=enqueue) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        _dispatch._interceptors.clear()
    assert len(set(ids)) == 1
    assert sent == [ids[0]]


def test_idempotent_eager_run_skips_a_completed_message(store_name: str) -> None:
    # apply() runs the task in-process through the same worker-side code path.
    first = idempotent_record.apply(args=["idem"], task_id="fixed-id-1", ignore_result=True)
    assert first.get() == "idem"
    second = idempotent_record.apply(args=["idem"], task_id="fixed-id-1", ignore_result=True)
    assert second.get() is None
    assert Event.objects.filter(tag="idem").count() == 1
    third = idempotent_record.apply(args=["idem"], task_id="other-id", ignore_result=True)
    assert third.get() == "idem"
    assert Event.objects.filter(tag="idem").count() == 2


def test_database_store_has_no_redis_dependency() -> None:
    assert isinstance(DatabaseStore(), DatabaseStore)
    assert redis_url()


@pytest.mark.django_db(transaction=True)
def test_prune_deletes_expired_database_entries_only() -> None:
    from nexus_tasks import relay

    store = DatabaseStore()
    store.put("done:old", "x", 60, "default")
    store.put("done:live", "x", 60, "default")
    assert store.acquire("unique:dead-worker", "t", "t", 60, "default") is None
    StoreEntry.objects.filter(key__in=["done:old", "unique:dead-worker"]).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert relay.prune() == 0  # no outbox rows; the store is pruned alongside
    assert list(StoreEntry.objects.values_list("key", flat=True)) == ["done:live"]
