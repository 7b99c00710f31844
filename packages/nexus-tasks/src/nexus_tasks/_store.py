"""The store of unique locks, idempotency records and task records: database or Redis.

Both implementations give the same guarantees: an entry has an expiry (a dead worker's lock
clears by itself), and a lock is released or renewed only by the holder of its owner token
(compare-and-delete: a Lua script on Redis, a conditional ``DELETE`` on the database), so a
worker whose lock expired and was taken over cannot release the new owner's lock.
"""

from __future__ import annotations

import datetime
import functools
import threading
from typing import Any, Protocol

from django.db import connections
from django.utils import timezone

from nexus_tasks.conf import get_settings


class Store(Protocol):
    def acquire(self, key: str, token: str, value: str, ttl: float, using: str) -> str | None:
        """Take ``key`` for ``token`` unless a live entry holds it; ``None`` when taken,
        else the holder's ``value``."""

    def release(self, key: str, token: str, using: str) -> bool:
        """Delete ``key`` only if ``token`` still owns it."""

    def renew(self, key: str, token: str, ttl: float, using: str) -> bool:
        """Extend ``key``'s expiry only if ``token`` still owns it."""

    def get(self, key: str, using: str) -> str | None: ...

    def put(self, key: str, value: str, ttl: float, using: str) -> None: ...

    def count(self, prefix: str, using: str) -> int:
        """Live entries whose key starts with ``prefix`` (for the health report)."""


def _now() -> datetime.datetime:
    return timezone.now()


class DatabaseStore:
    """Entries are rows of ``nexus_tasks_storeentry`` in the caller's database.

    An ``acquire`` inside a transaction is part of it: a rollback releases the lock, and a
    concurrent ``acquire`` of the same key waits for the first transaction to end (on
    PostgreSQL, at the primary-key index) instead of taking a lock that may vanish.
    """

    table = "nexus_tasks_storeentry"

    def acquire(self, key: str, token: str, value: str, ttl: float, using: str) -> str | None:
        connection = connections[using]
        now = _now()
        expires = now + datetime.timedelta(seconds=ttl)
        ops = connection.ops
        qn = ops.quote_name
        sql = (
            f"INSERT INTO {qn(self.table)} ({qn('key')}, {qn('token')}, {qn('value')}, {qn('expires_at')}) "
            "VALUES (%s, %s, %s, %s) "
            f"ON CONFLICT ({qn('key')}) DO UPDATE SET {qn('token')} = excluded.{qn('token')}, "
            f"{qn('value')} = excluded.{qn('value')}, {qn('expires_at')} = excluded.{qn('expires_at')} "
            f"WHERE {qn(self.table)}.{qn('expires_at')} < %s RETURNING {qn('token')}"
        )
        with connection.cursor() as cursor:
            cursor.execute(
                sql,
                [
                    key,
                    token,
                    value,
                    ops.adapt_datetimefield_value(expires),
                    ops.adapt_datetimefield_value(now),
                ],
            )
            row = cursor.fetchone()
            if row is not None:
                return None
            cursor.execute(f"SELECT {qn('value')} FROM {qn(self.table)} WHERE {qn('key')} = %s", [key])
            held = cursor.fetchone()
        # The holder may have released between the two statements: report it as held by
        # nobody in particular rather than retrying forever.
        return str(held[0]) if held is not None else ""

    def release(self, key: str, token: str, using: str) -> bool:
        from nexus_tasks.models import StoreEntry

        deleted, _ = StoreEntry.objects.using(using).filter(key=key, token=token).delete()
        return deleted > 0

    def renew(self, key: str, token: str, ttl: float, using: str) -> bool:
        from nexus_tasks.models import StoreEntry

        expires = _now() + datetime.timedelta(seconds=ttl)
        return StoreEntry.objects.using(using).filter(key=key, token=token).update(expires_at=expires) > 0

    def get(self, key: str, using: str) -> str | None:
        from nexus_tasks.models import StoreEntry

        value = (
            StoreEntry.objects.using(using)
            .filter(key=key, expires_at__gte=_now())
            .values_list("value", flat=True)
            .first()
        )
        return value

    def put(self, key: str, value: str, ttl: float, using: str) -> None:
        from nexus_tasks.models import StoreEntry

        expires = _now() + datetime.timedelta(seconds=ttl)
        StoreEntry.objects.using(using).update_or_create(
            key=key, defaults={"value": value, "token": "", "expires_at": expires}
        )

    def count(self, prefix: str, using: str) -> int:
        from nexus_tasks.models import StoreEntry

        return StoreEntry.objects.using(using).filter(key__startswith=prefix, expires_at__gte=_now()).count()


_RELEASE = """
local v = redis.call('get', KEYS[1])
if v and string.sub(v, 1, string.len(ARGV[1])) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""

_RENEW = """
local v = redis.call('get', KEYS[1])
if v and string.sub(v, 1, string.len(ARGV[1])) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


class RedisStore:
    """Entries are Redis keys under ``KEY_PREFIX``; a lock's value is ``token|value``.

    Acquire is one ``SET NX PX``; release and renew are Lua scripts that compare the owner
    token and act in one atomic step (never a bare ``DEL``).
    """

    def __init__(self, url: str, prefix: str) -> None:
        import redis

        self.prefix = prefix
        self.client: Any = redis.Redis.from_url(
            url, socket_timeout=2.0, socket_connect_timeout=1.0, decode_responses=True
        )
        self._release = self.client.register_script(_RELEASE)
        self._renew = self.client.register_script(_RENEW)

    def _k(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    def acquire(self, key: str, token: str, value: str, ttl: float, using: str) -> str | None:
        k = self._k(key)
        if self.client.set(k, f"{token}|{value}", nx=True, px=max(1, int(ttl * 1000))):
            return None
        held = self.client.get(k)
        if held is None:
            return ""
        return str(held).split("|", 1)[-1]

    def release(self, key: str, token: str, using: str) -> bool:
        return bool(self._release(keys=[self._k(key)], args=[f"{token}|"]))

    def renew(self, key: str, token: str, ttl: float, using: str) -> bool:
        return bool(self._renew(keys=[self._k(key)], args=[f"{token}|", max(1, int(ttl * 1000))]))

    def get(self, key: str, using: str) -> str | None:
        value = self.client.get(self._k(key))
        if value is None:
            return None
        return str(value).split("|", 1)[-1]

    def put(self, key: str, value: str, ttl: float, using: str) -> None:
        self.client.set(self._k(key), f"|{value}", px=max(1, int(ttl * 1000)))

    def count(self, prefix: str, using: str) -> int:
        return sum(1 for _ in self.client.scan_iter(match=f"{self._k(prefix)}*", count=500))


_lock = threading.Lock()


@functools.cache
def _redis_store(url: str, prefix: str) -> RedisStore:
    return RedisStore(url, prefix)


def redis_url() -> str:
    """The store's Redis URL: ``REDIS_URL``, else the broker's URL when it is Redis."""
    settings = get_settings()
    if settings.REDIS_URL:
        return settings.REDIS_URL
    from django.conf import settings as django_settings

    broker = str(getattr(django_settings, "CELERY_BROKER_URL", "") or "")
    if broker.startswith(("redis://", "rediss://")):
        return broker
    raise LookupError(
        "NEXUS_TASKS['STORE'] is 'redis' but no Redis URL is known: set NEXUS_TASKS['REDIS_URL']."
    )


def get_store() -> Store:
    settings = get_settings()
    if settings.STORE == "redis":
        with _lock:
            return _redis_store(redis_url(), settings.KEY_PREFIX)
    return DatabaseStore()
