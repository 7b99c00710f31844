"""One benchmark worker process: one caching system, commands as JSON lines on stdin.

Each system runs in its own process because django-cachalot and django-cacheops patch the
ORM globally; the runner (run.py) interleaves rounds across the workers.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench_settings")

import django

django.setup()

import redis.connection  # noqa: E402
from benchapp.models import Listing  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from rest_framework import generics, pagination, serializers  # noqa: E402
from rest_framework.test import APIRequestFactory  # noqa: E402

SYSTEM = os.environ["NXB_SYSTEM"]
CITY = "c7"
GET_PK = 123

# -- Redis round trips (one socket write of packed commands each) ---------------------------
_trips = [0]
_send = redis.connection.AbstractConnection.send_packed_command


def _counting(self: Any, command: Any, check_health: bool = True) -> None:
    _trips[0] += 1
    return _send(self, command, check_health)


redis.connection.AbstractConnection.send_packed_command = _counting  # type: ignore[method-assign]


def cached_qs(qs: Any) -> Any:
    if SYSTEM == "nexus":
        return qs.cached(timeout=600)
    if SYSTEM == "cacheops":
        return qs.cache()
    return qs  # cachalot caches everything; plain caches nothing


def timed(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


# -- views ------------------------------------------------------------------------------------
class Ser(serializers.ModelSerializer):
    class Meta:
        model = Listing
        fields = ["id", "city", "price", "title", "rating"]


class Page(pagination.PageNumberPagination):
    page_size = 50


def make_view() -> Any:
    base: tuple[type, ...] = (generics.ListAPIView,)
    attrs: dict[str, Any] = {"serializer_class": Ser, "pagination_class": Page}
    if SYSTEM == "nexus":
        from nexus_cache import CacheResponseMixin

        base = (CacheResponseMixin, generics.ListAPIView)
        attrs["cache_timeout"] = 600
        attrs["cache_public"] = True
    attrs["get_queryset"] = lambda self: cached_qs(Listing.objects.order_by("id"))
    view_cls = type("ListingList", base, attrs)
    if SYSTEM == "drfext":
        from rest_framework_extensions.cache.decorators import cache_response

        view_cls.list = cache_response(timeout=600)(view_cls.list)  # type: ignore[attr-defined]
    return view_cls.as_view()


VIEW = make_view()
factory = APIRequestFactory()


def request(query: str = "", **headers: str) -> Any:
    response = VIEW(factory.get(f"/listings/{query}", **headers))  # type: ignore[misc]
    if hasattr(response, "render"):
        response.render()
    return response


# -- commands ---------------------------------------------------------------------------------
def cmd_seed(rows: int) -> dict[str, Any]:
    from django.core.management import call_command

    call_command("migrate", run_syncdb=True, verbosity=0)
    batch = []
    for i in range(rows):
        batch.append(
            Listing(city=f"c{i % (rows // 50)}", price=i % 1000, title=f"listing {i}", rating=(i % 50) / 10)
        )
        if len(batch) == 5000:
            Listing.objects.bulk_create(batch)
            batch = []
    if batch:
        Listing.objects.bulk_create(batch)
    with connection.cursor() as c:
        c.execute("ANALYZE benchapp_listing")
    return {"rows": Listing.objects.count()}


def cmd_list_hit(n: int) -> list[float]:
    def run() -> None:
        assert len(list(cached_qs(Listing.objects.filter(city=CITY)))) == 50

    run()
    return timed(run, n)


def cmd_get_hit(n: int) -> list[float]:
    def run() -> None:
        cached_qs(Listing.objects.all()).get(pk=GET_PK)

    run()
    return timed(run, n)


def cmd_floor_list(n: int) -> list[float]:
    value = list(Listing.objects.filter(city=CITY))
    cache.set("floor-list", value, 600)
    return timed(lambda: cache.get("floor-list"), n)


def cmd_floor_get(n: int) -> list[float]:
    cache.set("floor-get", Listing.objects.get(pk=GET_PK), 600)
    return timed(lambda: cache.get("floor-get"), n)


def _populate(k: int) -> None:
    for i in range(k):
        list(cached_qs(Listing.objects.filter(city="c0", price__gte=-i - 1))[:1])


def cmd_save(k: int, n: int) -> dict[str, Any]:
    """Time n saves of one c0 row, each after (re)caching k queries that depend on it.

    The uncached baseline ("plain") goes through the same steps - the same k queries, run
    uncached, and the same pause - so that every system's save starts from the same state
    (a save right after another save is faster than one after a pause).
    """
    obj = Listing.objects.filter(city="c0").order_by("id").first()
    assert obj is not None
    times, trips = [], []
    for _ in range(n):
        if k:
            _populate(k)
            time.sleep(0.2)  # let Redis and PostgreSQL settle after the burst of queries
        obj.price = (obj.price + 1) % 1000
        gc.collect()  # populating k queries leaves garbage; do not time its collection
        before = _trips[0]
        t = time.perf_counter()
        obj.save()
        times.append(time.perf_counter() - t)
        trips.append(_trips[0] - before)
    return {"times": times, "trips": trips}


def cmd_drf(n: int) -> list[float]:
    request("?page=1")
    return timed(lambda: request("?page=1"), n)


def cmd_drf_check() -> dict[str, Any]:
    p1 = json.loads(request("?page=1").content)
    p2 = json.loads(request("?page=2").content)
    first = Listing.objects.order_by("id").first()
    assert first is not None
    first.title = f"changed {time.time()}"
    first.save()
    body = json.loads(request("?page=1").content)
    return {
        "page2_correct": p2["results"][0]["id"] != p1["results"][0]["id"],
        "fresh_after_save": body["results"][0]["title"] == first.title,
    }


def cmd_conditional(n: int) -> list[float]:
    etag = request("?page=1")["ETag"]

    def run() -> None:
        assert request("?page=1", HTTP_IF_NONE_MATCH=etag).status_code == 304

    return timed(run, n)


def main() -> None:
    commands: dict[str, Callable[..., Any]] = {
        name[4:]: fn for name, fn in globals().items() if name.startswith("cmd_") and callable(fn)
    }
    print(json.dumps({"ready": SYSTEM}), flush=True)
    for line in sys.stdin:
        msg = json.loads(line)
        try:
            result = commands[msg["cmd"]](*msg.get("args", []))
            print(json.dumps({"ok": result}), flush=True)
        except Exception as exc:  # report, keep serving
            print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)


if __name__ == "__main__":
    threading.current_thread().name = f"bench-{SYSTEM}"
    main()
