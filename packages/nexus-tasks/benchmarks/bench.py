"""nexus-tasks benchmarks on Redis: enqueue latency/throughput and unique-lock cost.

    pip install -e "packages/nexus-tasks[redis]" -r packages/nexus-tasks/benchmarks/requirements.txt
    python packages/nexus-tasks/benchmarks/bench.py [--n 2000] [--repeat 5] [--seed N]

Measures (medians over --repeat rounds of --n operations each; each round runs every
operation once, in a shuffled order, so that the ratios within one run hold on a busy
machine):
  * ``delay``: Celery's plain ``Task.delay`` (baseline; no transaction, no guarantees);
  * ``enqueue`` on commit: ``with atomic(): task.enqueue(x)`` (one transaction each);
  * outbox enqueue: ``with atomic(): task.enqueue(x, durable=True)``: the INSERT in the
    caller's transaction, publish after commit, mark sent;
  * relay publish: rows left pending (broker "down"), then ``relay.drain()`` msgs/s;
  * unique-lock acquire+release on Redis: nexus-tasks (SET NX PX + Lua compare-and-delete)
    against celery-once (redis-py Lock + unconditional DEL).

Uses a throw-away SQLite database file and a random queue/key prefix on REDIS_URL
(default redis://127.0.0.1:6379/0); everything it creates is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

NS = f"nxbench{secrets.token_hex(3)}"
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
DB_PATH = Path(tempfile.gettempdir()) / f"{NS}.sqlite3"


def configure() -> None:
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        USE_TZ=True,
        SECRET_KEY="bench",
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "nexus_tasks"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(DB_PATH)}},
        NEXUS_TASKS={"STORE": "redis", "REDIS_URL": REDIS_URL, "KEY_PREFIX": f"{NS}:nx"},
        LOGGING_CONFIG=None,
    )
    django.setup()
    import logging

    logging.getLogger("nexus_tasks").setLevel(logging.ERROR)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_app():  # type: ignore[no-untyped-def]
    from celery import Celery

    app = Celery("bench", set_as_current=True)
    app.conf.update(
        broker_url=REDIS_URL,
        broker_transport_options={"global_keyprefix": f"{NS}:"},
        result_backend=REDIS_URL,
        result_backend_transport_options={"global_keyprefix": f"{NS}:"},
        task_default_queue=NS,
        task_serializer="json",
        accept_content=["json"],
    )
    app.set_default()
    return app


def timed(n: int, fn: Callable[[int], object]) -> float:
    started = time.perf_counter()
    for i in range(n):
        fn(i)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=None, help="seed of the round order")
    opts = parser.parse_args()
    configure()
    app = make_app()

    import redis
    from celery_once.backends.redis import Redis as OnceRedis
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from nexus_tasks import relay, task
    from nexus_tasks._store import get_store
    from nexus_tasks.models import OutboxMessage
    from nexus_tasks.testing import broker_down

    @task(name="bench.noop")
    def noop(i: int) -> None:
        return None

    app.finalize()
    celery_noop = app.tasks["bench.noop"]
    n, repeat = opts.n, opts.repeat
    results: dict[str, list[float]] = {}
    ops: list[tuple[str, Callable[[], float]]] = []

    def op(label: str, fn: Callable[[int], object]) -> None:
        ops.append((label, lambda: timed(n, fn)))

    # Warm connections.
    celery_noop.delay(0)
    noop.enqueue(0)

    op("delay (plain Celery)", lambda i: celery_noop.delay(i))

    def on_commit(i: int) -> None:
        with transaction.atomic():
            noop.enqueue(i)

    op("enqueue on commit", on_commit)

    def outbox(i: int) -> None:
        with transaction.atomic():
            noop.enqueue(i, durable=True)

    op("outbox enqueue (+publish)", outbox)

    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        noop.enqueue(1, durable=True)
    inserts_in_transaction = sum(1 for q in queries if q["sql"].lstrip().upper().startswith("INSERT"))

    def relay_round() -> float:
        # Rows left pending by an outage (untimed), then one timed drain of all of them.
        OutboxMessage.objects.all().delete()
        with broker_down(), transaction.atomic():
            for i in range(n):
                noop.enqueue(i, durable=True)
        started = time.perf_counter()
        published = relay.drain()
        elapsed = time.perf_counter() - started
        assert published == n, published
        return elapsed

    ops.append(("relay publish (batch)", relay_round))

    store = get_store()
    op(
        "unique lock nexus (acquire+release)",
        lambda i: (
            store.acquire(f"unique:bench:{i}", "t", "t", 60, "default"),
            store.release(f"unique:bench:{i}", "t", "default"),
        ),
    )
    once = OnceRedis({"url": REDIS_URL})
    op(
        "unique lock celery-once (acquire+release)",
        lambda i: (once.raise_or_lock(f"{NS}:once:{i}", 60), once.clear_lock(f"{NS}:once:{i}")),
    )

    # Interleaved: every round runs each operation once, in a shuffled order, so that load
    # from other processes on a shared machine falls on all of them alike and the ratios
    # within one run stay meaningful.
    rng = random.Random(opts.seed)
    for _ in range(repeat):
        for label, measure in rng.sample(ops, len(ops)):
            results.setdefault(label, []).append(measure())
    results = {label: results[label] for label, _ in ops}

    base = statistics.median(results["delay (plain Celery)"])
    lock_base = statistics.median(results["unique lock celery-once (acquire+release)"])
    print(f"\nnexus-tasks benchmarks on Redis ({REDIS_URL.split('@')[-1]}), n={n}, median of {repeat}\n")
    print(f"| {'operation':<42} | {'median µs/op':>12} | {'ops/s':>9} | {'ratio':>14} |")
    print(f"|{'-' * 44}|{'-' * 14}:|{'-' * 10}:|{'-' * 15}:|")
    for label, times in results.items():
        med = statistics.median(times)
        if label.startswith("unique"):
            ratio = f"{med / lock_base:.2f}x celery-once"
        else:
            ratio = f"{med / base:.2f}x delay"
        print(f"| {label:<42} | {med / n * 1e6:>12.1f} | {n / med:>9.0f} | {ratio:>14} |")
    print(f"\nINSERTs the outbox adds to the caller's transaction: {inserts_in_transaction}")

    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=f"{NS}*", count=1000):
        client.delete(key)
    client.close()
    DB_PATH.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
