"""How entries and the tokens they depend on are fetched and stored, per kind of cache.

A hit needs the entry *and* the current values of the tokens it recorded. On any Django
cache that is one ``get_many`` when the caller already knows which tokens the entry
depends on (``_core`` remembers it per key), and a second one otherwise.

On django-redis it is always one round trip. An entry is stored as a small plain header -
the Redis keys of its tokens - followed by the value the client's serializer and
compressor made of the record. A process that does not know the entry yet sends one
``EVALSHA``: the script reads the entry, reads the header and returns the entry together
with the token values it names. A process that knows the dependencies sends one ``MGET``.

Redis Cluster: a script may only touch keys of one hash slot, and so may ``MGET``. Every
key nexus-cache writes shares a slot when ``KEY_PREFIX`` (or the cache's own
``KEY_PREFIX``) contains a hash tag, e.g. ``NEXUS_CACHE = {"KEY_PREFIX": "{nx}"}``;
without one, a cluster client is refused with an error that says so (and system check
``nexus_cache.E008`` reports it before that).
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import weakref
from collections.abc import Sequence
from typing import Any

from django.core.cache import BaseCache
from django.core.exceptions import ImproperlyConfigured

from nexus_cache import _tokens
from nexus_cache.conf import get_settings

Record = tuple[Any, ...]
FORMAT = 1


def is_record(record: Any) -> bool:
    """(FORMAT, value, names, snapshot, created, duration, expires)"""
    return isinstance(record, tuple) and len(record) == 7 and record[0] == FORMAT


class Fetched:
    """What one lookup returned: the record (or None), the token values read, and the
    extra keys that exist."""

    __slots__ = ("present", "record", "tokens")

    def __init__(self, record: Any, tokens: dict[str, int], present: frozenset[str] = frozenset()) -> None:
        self.record = record if is_record(record) else None
        self.tokens = tokens
        self.present = present


class Generic:
    """Any Django cache backend, through its public API."""

    def __init__(self, cache: BaseCache) -> None:
        self.cache = cache

    def fetch(self, ekey: str, names: tuple[str, ...], extra: Sequence[str] = ()) -> Fetched:
        """The entry and the tokens ``names`` plus those the entry recorded (a second round
        trip when ``names`` missed some); ``extra`` keys are checked for presence."""
        keys = [_tokens.key(n) for n in names]
        got: dict[str, Any] = self.cache.get_many([ekey, *keys, *extra])
        tokens = {n: v for n, k in zip(names, keys, strict=True) if isinstance(v := got.get(k), int)}
        fetched = Fetched(got.get(ekey), tokens, frozenset(k for k in extra if k in got))
        if fetched.record is not None:
            asked = set(names)
            missing = [n for n in fetched.record[2] if n not in asked]
            if missing:
                tokens.update(self.tokens(missing))
        return fetched

    fetch_cold = fetch

    def tokens(self, names: Sequence[str]) -> dict[str, int]:
        keys = [_tokens.key(n) for n in names]
        got: dict[str, Any] = self.cache.get_many(keys)
        return {n: v for n, k in zip(names, keys, strict=True) if isinstance(v := got.get(k), int)}

    def store(self, ekey: str, record: Record, timeout: int) -> None:
        self.cache.set(ekey, record, timeout)

    def get(self, ekey: str) -> Record | None:
        record = self.cache.get(ekey)
        return record if is_record(record) else None

    def write_tokens(self, values: dict[str, int], timeout: int) -> None:
        """Store new token values (keyed by token key) or raise."""
        # Memcached does not raise when a server is down (or marked dead for a while):
        # set_many returns the keys it could not store. A token that was not replaced is
        # a missed invalidation, so that is a failure like any other.
        failed = self.cache.set_many(values, timeout)
        if failed:
            raise TokensNotStored(f"the cache did not store {len(failed)} of {len(values)} token(s)")

    def add_counts(self, deltas: dict[str, int], timeout: int) -> None:
        """Add to shared counters (created with ``timeout`` when absent)."""
        for key, n in deltas.items():
            self.cache.add(key, 0, timeout)
            try:
                self.cache.incr(key, n)
            except ValueError:  # expired between add and incr
                self.cache.set(key, n, timeout)


class TokensNotStored(Exception):
    """The cache accepted a token write without storing it (memcached's set_many)."""


# -- django-redis -------------------------------------------------------------------------------

_MAGIC = b"NX1"

# KEYS[1]: the entry; KEYS[2..]: tokens wanted whatever the entry says. Returns the entry
# (false when absent), then the values of the tokens its header names, then KEYS[2..].
# The header is _MAGIC, 8 hex digits of header length, then per token key 4 hex digits
# of length and the key. MGET in slices: unpack() has a stack limit of a few thousand.
_LOOKUP_LUA = b"""
local e = redis.call('GET', KEYS[1])
local keys = {}
local size = e and string.sub(e, 1, 3) == 'NX1' and tonumber(string.sub(e, 4, 11), 16)
if size then
  local pos, stop = 12, 11 + size
  while pos <= stop do
    local n = tonumber(string.sub(e, pos, pos + 3), 16)
    if not n then break end
    keys[#keys + 1] = string.sub(e, pos + 4, pos + 3 + n)
    pos = pos + 4 + n
  end
end
for i = 2, #KEYS do keys[#keys + 1] = KEYS[i] end
local out = {e}
for first = 1, #keys, 1000 do
  local last = math.min(first + 999, #keys)
  local vals = redis.call('MGET', unpack(keys, first, last))
  for i = 1, last - first + 1 do out[first + i] = vals[i] end
end
return out
"""
_LOOKUP_SHA = hashlib.sha1(_LOOKUP_LUA).hexdigest()

# KEYS: tokens; ARGV: their new values, then the timeout. One command and one reply for a
# write's tokens (django-redis's set_many is a MULTI/EXEC pipeline: a reply per key).
_REPLACE_LUA = b"""
local ttl = ARGV[#KEYS + 1]
for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[i], 'EX', ttl) end
return #KEYS
"""
_REPLACE_SHA = hashlib.sha1(_REPLACE_LUA).hexdigest()

# KEYS: counters; ARGV: the amounts, then the timeout of a counter that did not exist.
# (The counters are flushed from the request path: one round trip, not two per counter.)
_COUNT_LUA = b"""
local ttl = ARGV[#KEYS + 1]
for i = 1, #KEYS do
  if redis.call('INCRBY', KEYS[i], ARGV[i]) == tonumber(ARGV[i]) then
    redis.call('EXPIRE', KEYS[i], ttl)
  end
end
return #KEYS
"""
_COUNT_SHA = hashlib.sha1(_COUNT_LUA).hexdigest()
_RAW_KEYS_MAX = 65536
#: Entries and token keys met one by one (rows, querysets): a smaller memo per adapter.
_RAW_ONE_MAX = 16384


def _int(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class DjangoRedis:
    """django-redis (``DefaultClient``, ``SentinelClient``): raw commands on the primary,
    records encoded by the client's serializer and compressor."""

    def __init__(self, cache: Any) -> None:
        self.cache = cache
        self.client = cache.client
        self._raw_tokens: dict[tuple[str, ...], list[str]] = {}
        self._raw_entries: dict[str, str] = {}
        self._raw_token_keys: dict[str, str] = {}
        self._settings = get_settings()
        # Reads go to the primary too: a replica may not have the newest token yet.
        self.redis = self.client.get_client(write=True)
        self._loads = self._fast_loads()
        self._check_cluster()
        #: Per thread, the connection for token writes (None: pooled calls - a client without
        #: a pool, or green threads, where a connection per greenlet would mean one per request).
        pool = getattr(self.redis, "connection_pool", None)
        self._writers: threading.local | None = (
            None if pool is None or _green_threads() else _writers_of(pool)
        )

    def _fast_loads(self) -> Any:
        """The serializer's loads when nothing is compressed: the client's decode() first
        tries int() and a decompression, an exception and a context manager on every hit."""
        try:
            from django_redis.compressors.identity import IdentityCompressor
        except ImportError:  # pragma: no cover - django-redis without the module
            return None
        if type(getattr(self.client, "_compressor", None)) is IdentityCompressor:
            serializer = getattr(self.client, "_serializer", None)
            return getattr(serializer, "loads", None)
        return None

    def _check_cluster(self) -> None:
        try:
            from redis.cluster import RedisCluster
            from redis.crc import key_slot
        except ImportError:  # pragma: no cover - redis-py without cluster support
            return
        if not isinstance(self.redis, RedisCluster):
            return
        samples = (_tokens.key("a"), _tokens.key("b"), f"{get_settings().KEY_PREFIX}:e:entry")
        slots = {key_slot(self.raw(k).encode()) for k in samples}
        if len(slots) > 1:
            raise ImproperlyConfigured(cluster_error())

    def raw(self, key: str) -> str:
        """The Redis key of a cache key (Django's KEY_PREFIX, VERSION, KEY_FUNCTION)."""
        return str(self.client.make_key(key))

    def raw_tokens(self, names: tuple[str, ...]) -> list[str]:
        """The Redis keys of these tokens (the same few tuples recur: memoized, until the
        settings - KEY_PREFIX - change)."""
        settings = get_settings()
        if settings is not self._settings:
            self._settings = settings
            self._raw_tokens.clear()
            self._raw_entries.clear()
            self._raw_token_keys.clear()
        keys = self._raw_tokens.get(names)
        if keys is None:
            if len(self._raw_tokens) >= _RAW_KEYS_MAX:
                self._raw_tokens.clear()
            keys = self._raw_tokens[names] = [self.raw(_tokens.key(n)) for n in names]
        return keys

    def raw_token(self, token_key: str) -> str:
        """The Redis key of a token's cache key (memoized, like ``raw_entry``)."""
        raw = self._raw_token_keys.get(token_key)
        if raw is None:
            if len(self._raw_token_keys) >= _RAW_ONE_MAX:
                self._raw_token_keys.clear()
            raw = self._raw_token_keys[token_key] = self.raw(token_key)
        return raw

    def raw_entry(self, ekey: str) -> str:
        """The Redis key of an entry (memoized: a hit asks for the same keys again)."""
        raw = self._raw_entries.get(ekey)
        if raw is None:
            if len(self._raw_entries) >= _RAW_ONE_MAX:
                self._raw_entries.clear()
            self._raw_token_keys.clear()
            raw = self._raw_entries[ekey] = self.raw(ekey)
        return raw

    # -- records ---------------------------------------------------------------------------
    def _encode(self, record: Record) -> bytes:
        keys = [k.encode() for k in self.raw_tokens(record[2])]
        header = b"".join(b"%04x%s" % (len(k), k) for k in keys)
        payload: bytes = self.client.encode(record, allow_int=False)
        return b"%s%08x%s%s" % (_MAGIC, len(header), header, payload)

    def _decode(self, blob: Any) -> Record | None:
        if not isinstance(blob, bytes) or not blob.startswith(_MAGIC):
            return None
        try:
            payload = blob[11 + int(blob[3:11], 16) :]
            record = self._loads(payload) if self._loads is not None else self.client.decode(payload)
        except Exception:  # an entry this client cannot read (changed serializer): a miss
            return None
        return record if is_record(record) else None

    def store(self, ekey: str, record: Record, timeout: int) -> None:
        self.redis.set(self.raw(ekey), self._encode(record), ex=timeout)

    def get(self, ekey: str) -> Record | None:
        return self._decode(self.redis.get(self.raw(ekey)))

    # -- lookups ---------------------------------------------------------------------------
    def fetch(self, ekey: str, names: tuple[str, ...], extra: Sequence[str] = ()) -> Fetched:
        """One MGET: the entry, the tokens it is expected to depend on, ``extra`` keys."""
        keys = [self.raw_entry(ekey), *self.raw_tokens(names)]
        if extra:
            keys.extend(self.raw(k) for k in extra)
        # (execute_command: redis-py's mget() adds an import and argument juggling per call)
        values = self.redis.execute_command("MGET", *keys)
        tokens: dict[str, int] = {}
        for name, value in zip(names, values[1 : 1 + len(names)], strict=True):
            if (v := _int(value)) is not None:
                tokens[name] = v
        present = frozenset(k for k, v in zip(extra, values[1 + len(names) :], strict=True) if v is not None)
        fetched = Fetched(self._decode(values[0]), tokens, present)
        record = fetched.record
        if record is not None and record[2] != names:
            missing = [n for n in record[2] if n not in tokens and n not in names]
            if missing:  # the entry was recomputed with other dependencies since
                tokens.update(self.tokens(missing))
        return fetched

    def fetch_cold(self, ekey: str, names: tuple[str, ...], extra: Sequence[str] = ()) -> Fetched:
        """One EVALSHA: the entry plus the tokens its header names (and ``names``)."""
        if extra:
            return self.fetch(ekey, names, extra)
        keys = [self.raw(ekey), *self.raw_tokens(names)]
        reply = self._script(_LOOKUP_SHA, _LOOKUP_LUA, keys)
        record = self._decode(reply[0])
        split = len(reply) - len(names)
        pairs = list(zip(names, reply[split:], strict=True))
        if record is not None and split - 1 == len(record[2]):
            pairs.extend(zip(record[2], reply[1:split], strict=True))
        tokens = {name: v for name, value in pairs if (v := _int(value)) is not None}
        return Fetched(record, tokens)

    def write_tokens(self, values: dict[str, int], timeout: int) -> None:
        keys = [self.raw_token(k) for k in values]
        args = [*values.values(), timeout]
        if self._writers is None:  # (a cluster client, or green threads: see __init__)
            self._script(_REPLACE_SHA, _REPLACE_LUA, keys, args)
            return
        try:
            self._write_command("EVALSHA", _REPLACE_SHA, len(keys), *keys, *args)
        except Exception as exc:
            from redis.exceptions import NoScriptError

            if not isinstance(exc, NoScriptError):
                raise
            self._write_command("EVAL", _REPLACE_LUA, len(keys), *keys, *args)

    def _write_command(self, *command: Any) -> Any:
        """Send an idempotent write on this thread's own connection and return the reply.

        A save waits for this reply, right after the database's: a pooled call (checkout,
        retry wrapper, metrics hooks, release) cost 200-300 µs more than the round trip on a
        CPU that had just been idle waiting for the database. The connection is made with
        the pool's own class and settings (timeouts, TLS, auth, Sentinel); it belongs to one
        thread and one process (it closes when its thread ends), and a connection error
        replaces it and sends the command once more, as redis-py's retry would.
        """
        from redis import exceptions

        writers = self._writers
        assert writers is not None
        pid = os.getpid()
        for attempt in (1, 2):
            conn = getattr(writers, "conn", None)
            if conn is None or writers.pid != pid:
                pool = self.redis.connection_pool
                conn = writers.conn = pool.connection_class(**pool.connection_kwargs)
                writers.pid = pid
            try:
                conn.send_command(*command)
                return conn.read_response()
            except exceptions.ResponseError:  # (a reply error leaves the connection usable)
                raise
            except (exceptions.ConnectionError, exceptions.TimeoutError, OSError):
                conn.disconnect()
                writers.conn = None
                if attempt == 2:
                    raise
            except BaseException:
                conn.disconnect()
                writers.conn = None
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def add_counts(self, deltas: dict[str, int], timeout: int) -> None:
        keys = [self.raw(k) for k in deltas]
        self._script(_COUNT_SHA, _COUNT_LUA, keys, [*deltas.values(), timeout])

    def _script(self, sha: str, lua: bytes, keys: Sequence[str], args: Sequence[Any] = ()) -> Any:
        from redis.exceptions import NoScriptError

        try:
            return self.redis.evalsha(sha, len(keys), *keys, *args)
        except NoScriptError:  # a restarted server: EVAL also caches it again
            return self.redis.eval(lua, len(keys), *keys, *args)

    def tokens(self, names: Sequence[str]) -> dict[str, int]:
        values = self.redis.mget([self.raw(_tokens.key(n)) for n in names])  # (rare: not memoized)
        return {n: v for n, value in zip(names, values, strict=True) if (v := _int(value)) is not None}


#: Per connection pool, each thread's own connection for token writes. Kept with the pool
#: rather than the adapter: Django makes a cache object (and so an adapter) per thread, and
#: per request under ASGI, which would otherwise open a connection per request.
_writer_locals: weakref.WeakKeyDictionary[Any, threading.local] = weakref.WeakKeyDictionary()
_writer_locals_lock = threading.Lock()


def _green_threads() -> bool:
    """gevent or eventlet patched ``threading``: ``threading.local`` is then per greenlet."""
    gevent = sys.modules.get("gevent.monkey")
    if gevent is not None and gevent.is_module_patched("threading"):
        return True
    eventlet = sys.modules.get("eventlet.patcher")
    return bool(eventlet is not None and eventlet.is_monkey_patched("thread"))


def _writers_of(pool: Any) -> threading.local:
    with _writer_locals_lock:
        local = _writer_locals.get(pool)
        if local is None:
            local = _writer_locals[pool] = threading.local()
        return local


def cluster_error() -> str:
    return (
        "nexus-cache: the cache is a Redis Cluster and nexus-cache's keys fall in different hash "
        "slots, so a hit cannot read an entry and its tokens in one command. Put a hash tag in "
        "the prefix, e.g. NEXUS_CACHE = {'KEY_PREFIX': '{nx}'} (all nexus-cache keys then live "
        "in one slot), or give nexus-cache a cache alias on a single Redis primary."
    )


def _django_redis_client(cache: BaseCache) -> Any:
    """The cache's django-redis client when this module can drive it, else None."""
    try:
        from django_redis.cache import RedisCache
        from django_redis.client import DefaultClient, HerdClient, ShardClient
    except ImportError:
        return None
    if not isinstance(cache, RedisCache):
        return None
    client = cache.client
    # Client-side sharding puts keys on different servers, and HerdClient stores every
    # value (tokens too) wrapped in its own tuple: both go through the generic path.
    if not isinstance(client, DefaultClient) or isinstance(client, ShardClient | HerdClient):
        return None
    return client


def for_cache(cache: BaseCache) -> Generic | DjangoRedis:
    """The adapter for a cache instance (kept on it: Django's caches are per thread)."""
    adapter: Generic | DjangoRedis | None = cache.__dict__.get("_nexus_cache_adapter")
    if adapter is None:
        adapter = DjangoRedis(cache) if _django_redis_client(cache) is not None else Generic(cache)
        cache.__dict__["_nexus_cache_adapter"] = adapter
    return adapter


__all__ = [
    "FORMAT",
    "DjangoRedis",
    "Fetched",
    "Generic",
    "Record",
    "TokensNotStored",
    "cluster_error",
    "for_cache",
    "is_record",
]
