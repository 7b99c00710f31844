"""Where a nexus-cache hit and a save spend their time: CPU and wall medians against the
floor, the hit path with Redis taken out, Redis commands per operation, and cProfile.

    .venv-bench/bin/python profile_hits.py [--rows 100000] [--top 25]

Creates and drops its own database and deletes only its own keys, like run.py.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def outer(opts: argparse.Namespace) -> None:
    sys.path.insert(0, str(HERE))
    from run import Worker, create_scratch, drop_scratch

    dbname, prefix, env = create_scratch("profile")
    try:
        seeder = Worker("plain", env)
        seeder("seed", opts.rows)
        seeder.close()
        for system in ("plain", "nexus"):
            subprocess.run(
                [sys.executable, __file__, "--inner", "--top", str(opts.top)],
                env={**env, "NXB_SYSTEM": system},
                check=True,
            )
    finally:
        drop_scratch(dbname, prefix)


def inner(opts: argparse.Namespace) -> None:
    import cProfile
    import gc
    import pstats
    import random
    import statistics
    import time
    import timeit

    sys.path.insert(0, str(HERE))
    import worker
    from worker import CITY, GET_PK, Listing, cache

    system = os.environ["NXB_SYSTEM"]

    row = Listing.objects.filter(city="c0").order_by("id").first()
    assert row is not None

    def save_once() -> None:
        row.price = (row.price + 1) % 1000
        row.save()

    if system == "plain":
        ts = []
        for _ in range(50):
            save_once()
        for _ in range(500):
            t = time.perf_counter()
            save_once()
            ts.append(time.perf_counter() - t)
        print(f"plain save (back to back): wall median {statistics.median(ts) * 1e6:.0f} µs")
        return

    get_hit = lambda: Listing.objects.all().cached(timeout=600).get(pk=GET_PK)  # noqa: E731
    list_hit = lambda: list(Listing.objects.filter(city=CITY).cached(timeout=600))  # noqa: E731
    cache.set("floor-get", Listing.objects.get(pk=GET_PK), 600)
    cache.set("floor-list", list(Listing.objects.filter(city=CITY)), 600)
    fns = {
        "floor get": lambda: cache.get("floor-get"),
        "get hit": get_hit,
        "floor list": lambda: cache.get("floor-list"),
        "list hit": list_hit,
    }
    for f in fns.values():
        for _ in range(20):
            f()
    wall: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    order = list(fns)
    gc.disable()
    for i in range(3000):
        random.shuffle(order)
        for k in order:
            c0, t0 = time.thread_time(), time.perf_counter()
            fns[k]()
            wall[k].append(time.perf_counter() - t0)
            cpu[k].append(time.thread_time() - c0)
        if i % 200 == 0:
            gc.collect()
    gc.enable()
    print("\nmedians over 3,000 interleaved calls (µs)")
    for label, data in (("wall", wall), ("cpu ", cpu)):
        m = {k: statistics.median(v) * 1e6 for k, v in data.items()}
        print(
            f"  {label}: get {m['get hit']:.1f} / floor {m['floor get']:.1f} = "
            f"{m['get hit'] / m['floor get']:.2f}x   list {m['list hit']:.1f} / floor "
            f"{m['floor list']:.1f} = {m['list hit'] / m['floor list']:.2f}x"
        )

    # The hit path's own CPU: the same calls with Redis answered from memory.
    from nexus_cache import _backends, _store

    adapter = _backends.for_cache(_store.cache())
    assert isinstance(adapter, _backends.DjangoRedis)
    real = adapter.redis
    replies: dict[tuple[str, ...], object] = {}

    class Canned:
        def execute_command(self, command: str, *keys: str) -> object:
            return self.mget(list(keys))

        def mget(self, keys: list[str]) -> object:
            key = tuple(keys)
            if key not in replies:
                replies[key] = real.mget(keys)
            return replies[key]

    get_hit(), list_hit()  # stored and valid: the canned replies are hits
    adapter.redis = Canned()  # type: ignore[assignment]
    print("\nCPU without the Redis round trip (µs, best of 7)")
    for label, f, n in (("get hit", get_hit, 5000), ("list hit", list_hit, 2000)):
        best = min(timeit.repeat(f, number=n, repeat=7, timer=time.thread_time)) / n * 1e6
        print(f"  {label}: {best:.1f}")
    adapter.redis = real
    for label, key in (("get", "floor-get"), ("list", "floor-list")):
        blob = real.get(cache.make_key(key))  # type: ignore[attr-defined]
        best = min(
            timeit.repeat(
                lambda b=blob: cache.client.decode(b), number=2000, repeat=7, timer=time.thread_time
            )
        )  # type: ignore[attr-defined]
        print(f"  unpickling the same {label} value (the floor's share): {best / 2000 * 1e6:.1f}")

    # Redis commands per operation.
    commands: list[bytes] = []
    send = worker.redis.connection.AbstractConnection.send_packed_command

    def spy(self: object, command: object, check_health: bool = True) -> None:
        commands.append(bytes(command[0] if isinstance(command, list) else command)[:40])  # type: ignore[arg-type,index]
        return send(self, command, check_health)  # type: ignore[arg-type]

    worker.redis.connection.AbstractConnection.send_packed_command = spy  # type: ignore[method-assign]
    for label, f in (("get hit", get_hit), ("list hit", list_hit), ("save", save_once)):
        commands.clear()
        f()
        names = [c.split(b"\r\n")[2].decode() for c in commands]
        print(f"  Redis round trips, {label}: {len(commands)} {names}")
    worker.redis.connection.AbstractConnection.send_packed_command = send  # type: ignore[method-assign]

    for label, f, n in (("get hit", get_hit, 3000), ("list hit", list_hit, 1000), ("save", save_once, 300)):
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(n):
            f()
        profiler.disable()
        print(f"\ncProfile: {label} x {n}")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(opts.top)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    (inner if opts.inner else outer)(opts)


if __name__ == "__main__":
    main()
