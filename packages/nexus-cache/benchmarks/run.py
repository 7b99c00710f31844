"""Benchmarks: nexus-cache against django-cacheops, django-cachalot, drf-extensions and the
raw django-redis floor, on PostgreSQL + Redis, in interleaved rounds.

    python -m venv .venv-bench && .venv-bench/bin/pip install -r requirements.txt -e "..[redis,drf]"
    .venv-bench/bin/python run.py [--rounds 5] [--quick] [--before path/to/old/src]

Each system runs in its own worker process (cachalot and cacheops patch the ORM globally);
every round runs every system once, in a shuffled order, and the table shows medians over
all samples and the ratio to the relevant baseline. Hits are timed first, in many short
bursts (``--hit-bursts`` x ``--hit-samples``), every burst visiting every system in a new
shuffled order: on a shared machine the load changes within seconds, and one long batch
per system would compare one system's quiet moment with another's busy one. A throwaway database is created and
dropped; Redis keys carry a random prefix and are deleted at the end (nothing is flushed).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import redis

HERE = Path(__file__).resolve().parent
SYSTEMS = ["plain", "nexus", "cacheops", "cachalot", "drfext"]
BEFORE = "nexus@before"
CACHING = ("nexus", BEFORE, "cacheops", "cachalot")


def kind(system: str) -> str:
    return "nexus" if system == BEFORE else system


PG_ADMIN = os.environ.get("NXB_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def create_scratch(kind: str) -> tuple[str, str, dict[str, str]]:
    """A throwaway database and a random Redis key prefix: (database, prefix, worker env)."""
    prefix = f"nx{kind[0]}{secrets.token_hex(4)}"
    dbname = f"nexus_cache_{kind}_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    return dbname, prefix, {**os.environ, "NXB_DB": dbname, "NXB_PREFIX": prefix}


def drop_scratch(dbname: str, prefix: str) -> None:
    """Drop the database and delete only the keys under the prefix (nothing is flushed)."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    for key in client.scan_iter(match=f"*{prefix}*", count=1000):
        client.delete(key)


class Worker:
    def __init__(self, system: str, env: dict[str, str], before: str | None = None) -> None:
        self.system = system
        env = {**env, "NXB_SYSTEM": kind(system), "NXB_LABEL": system}
        if system == BEFORE:
            # Another build of nexus-cache (e.g. a checkout of an earlier commit's src/).
            env["PYTHONPATH"] = os.pathsep.join(p for p in (before, env.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "worker.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self._read()

    def _read(self) -> Any:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.system} died")
        return json.loads(line)

    def __call__(self, cmd: str, *args: Any) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, "args": list(args)}) + "\n")
        self.proc.stdin.flush()
        reply = self._read()
        if "error" in reply:
            raise RuntimeError(f"{self.system} {cmd}: {reply['error']}")
        return reply["ok"]

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)


def us(seconds: float) -> str:
    return f"{seconds * 1e6:8.1f} µs"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="skip the 50,000-dependents save")
    parser.add_argument(
        "--hit-bursts",
        type=int,
        default=40,
        help="hits are timed in this many short bursts per system, all systems interleaved "
        "in a fresh shuffled order per burst (load on a shared machine drifts within seconds)",
    )
    parser.add_argument("--hit-samples", type=int, default=25, help="timed hits per burst")
    parser.add_argument(
        "--before",
        metavar="SRC",
        help="also run the nexus_cache package found in SRC (e.g. an earlier commit's src/) as "
        f"{BEFORE!r}, interleaved with the others",
    )
    opts = parser.parse_args()
    systems = SYSTEMS + ([BEFORE] if opts.before else [])

    dbname, prefix, env = create_scratch("bench")
    workers: dict[str, Worker] = {}
    samples: dict[tuple[str, str], list[float]] = {}
    trips: dict[tuple[str, str], list[int]] = {}
    checks: dict[str, dict[str, bool]] = {}

    def add(system: str, metric: str, values: list[float]) -> None:
        samples.setdefault((system, metric), []).extend(values)

    try:
        seeder = Worker("plain", env)
        print("seeded", seeder("seed", opts.rows), file=sys.stderr)
        seeder.close()
        for system in systems:
            workers[system] = Worker(system, env, opts.before)
        dependents = [1, 1000] + ([] if opts.quick else [50_000])
        for _ in range(opts.hit_bursts):
            order = systems[:]
            random.shuffle(order)
            for system in order:
                for metric in ("list hit", "get hit"):
                    name = metric.split()[0]
                    if system == "plain":
                        add("floor", metric, workers[system](f"floor_{name}", opts.hit_samples))
                    elif system in CACHING:
                        add(system, metric, workers[system](f"{name}_hit", opts.hit_samples))
        print(f"hits: {opts.hit_bursts} bursts of {opts.hit_samples}", file=sys.stderr)
        for r in range(opts.rounds):
            order = systems[:]
            random.shuffle(order)
            print(f"round {r + 1}/{opts.rounds}: {' '.join(order)}", file=sys.stderr)
            savers = [x for x in systems if x == "plain" or x in CACHING]
            for k in dependents:
                if k == 50_000 and r >= 3:
                    continue  # three samples each: populating 50,000 queries is slow
                # Ten saves per round (one at 50,000), in bursts of two, each burst visiting
                # the systems in a new order. plain runs the same k queries (uncached) and
                # pause before each save.
                for n in [1] if k == 50_000 else [2] * 5:
                    random.shuffle(savers)
                    for system in savers:
                        res = workers[system]("save", k, n)
                        add(system, f"save k={k}", res["times"])
                        trips.setdefault((system, f"save k={k}"), []).extend(res["trips"])
            for system in order:
                w = workers[system]
                add(system, "DRF list page 1", w("drf", 30))
                if kind(system) == "nexus":
                    add(system, "conditional GET (304)", w("conditional", 100))
        for system in systems:
            checks[system] = workers[system]("drf_check")
    finally:
        for w in workers.values():
            w.close()
        drop_scratch(dbname, prefix)

    def med(system: str, metric: str) -> float:
        return statistics.median(samples[(system, metric)])

    shown = [x for x in ("nexus", BEFORE, "cacheops", "cachalot") if x in systems]
    print("\n| measurement | system | median | ratio | notes |")
    print("|---|---|---|---|---|")
    for metric in ("list hit", "get hit"):
        floor = med("floor", metric)
        print(
            f"| {metric} (50 rows)" if metric == "list hit" else f"| {metric}",
            "| floor (django-redis get) |",
            us(floor),
            "| 1.00x | |",
        )
        for system in shown:
            print(
                f"| {metric} | {system} | {us(med(system, metric))} | {med(system, metric) / floor:.2f}x | |"
            )
    for k in dependents:
        key = f"save k={k}"
        base = med("plain", key)
        print(f"| save() after {k:,} queries, uncached | plain | {us(base)} | 1.00x | |")
        for system in shown:
            rt = statistics.median(trips[(system, key)])
            print(
                f"| save() with {k:,} cached dependents | {system} | {us(med(system, key))} | "
                f"{med(system, key) / base:.2f}x uncached | {rt:.0f} Redis round trips |"
            )
    drf_base = med("plain", "DRF list page 1")
    for system in ["plain", "nexus", BEFORE, "drfext", "cacheops", "cachalot"]:
        if system not in systems:
            continue
        m = med(system, "DRF list page 1")
        c = checks.get(system, {})
        print(
            f"| DRF list page 1 of 50 / {opts.rows:,} rows | {system} | {us(m)} ({1 / m:,.0f} req/s) | "
            f"{drf_base / m:.1f}x uncached req/s | page 2 correct: {c.get('page2_correct')}, "
            f"fresh after save: {c.get('fresh_after_save')} |"
        )
    for system in ("nexus", BEFORE):
        if system in systems:
            m = med(system, "conditional GET (304)")
            print(f"| conditional GET (304) | {system} | {us(m)} | {drf_base / m:.1f}x uncached req/s | |")


if __name__ == "__main__":
    main()
