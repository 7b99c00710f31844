"""Page latency at depth 1, 100, 1,000 and 10,000 on a 1,000,000-row PostgreSQL table.

    python benchmarks/run.py                      # creates, fills and drops its own database
    DATABASE_URL=postgres://user@host:5432/db python benchmarks/run.py --rows 1000000
    python benchmarks/run.py --keep-db nexus_api_bench   # reuse the filled table next time
    python benchmarks/run.py --keep-db nexus_api_bench --profile KeysetPagination@1000

Every method serves the same DRF view (or graphene query) over the same table, indexed on
(created_at DESC, id), 50 rows per page. Prints the median of --repeat timed requests per
depth (after warm-up) and the ratio of each depth to depth 1.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

PAGE = 50
DEPTHS = (1, 100, 1_000, 10_000)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=25, help="timed requests per cell")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument(
        "--keep-db", metavar="NAME", help="use (and keep) this database instead of a temporary one"
    )
    parser.add_argument("--only", help="comma-separated method names to run")
    parser.add_argument(
        "--profile",
        metavar="METHOD@DEPTH",
        help="instead of timing, profile --repeat requests of one cell with cProfile, e.g. 'KeysetPagination@1000'",
    )
    return parser.parse_args()


def profile(methods: dict[str, Callable[[int], Callable[[], Any]]], cell: str, repeat: int) -> None:
    """Where one cell's time goes: the 40 most expensive functions, by own time."""
    import cProfile
    import pstats

    name, _, depth = cell.rpartition("@")
    call = methods[name](int(depth))
    for _ in range(10):
        call()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeat):
        call()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(40)


def database_config(name: str) -> dict[str, Any]:
    url = urlsplit(os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/test")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(url.username or "postgres"),
        "PASSWORD": unquote(url.password or ""),
        "HOST": url.hostname or "127.0.0.1",
        "PORT": str(url.port or 5432),
        "CONN_MAX_AGE": None,
    }


def admin_execute(sql: str) -> None:
    import psycopg

    config = database_config("postgres")
    with psycopg.connect(
        dbname=urlsplit(os.environ.get("DATABASE_URL") or "postgres://x/test").path.lstrip("/") or "test",
        user=config["USER"],
        password=config["PASSWORD"] or None,
        host=config["HOST"],
        port=config["PORT"],
        autocommit=True,
    ) as conn:
        conn.execute(sql)


def setup_django(db_name: str) -> None:
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmark-only",
        USE_TZ=True,
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "rest_framework",
            "nexus_api",
            "bench",
        ],
        DATABASES={"default": database_config(db_name)},
        REST_FRAMEWORK={"UNAUTHENTICATED_USER": None},
        GRAPHENE={"RELAY_CONNECTION_MAX_LIMIT": 100},
    )
    django.setup()


urlpatterns: list[Any] = []


def fill(rows: int) -> None:
    from bench.models import Event
    from django.db import connection

    table = Event._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [table])
        if cursor.fetchone()[0] is not None:
            cursor.execute(f"SELECT count(*) FROM {table}")
            if cursor.fetchone()[0] == rows:
                print(f"reusing {rows:,} rows in {table}")
                return
            cursor.execute(f"DROP TABLE {table}")
    with connection.schema_editor() as editor:
        editor.create_model(Event)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # Timestamps one second apart with every tenth one repeated: realistic ties.
        cursor.execute(
            f"""
            INSERT INTO {table} (created_at, title, city, price, rank)
            SELECT timestamptz '2020-01-01' + ((i - i %% 10 / 9) * interval '1 second'),
                   'Event ' || i, (ARRAY['Lagos','Lisbon','Lima','Lyon'])[1 + i %% 4],
                   (i::bigint * 7919) %% 1000, CASE WHEN i %% 5 = 0 THEN NULL ELSE i %% 100 END
            FROM generate_series(1, %s) AS i
            """,
            [rows],
        )
        cursor.execute(f"ANALYZE {table}")
    print(f"filled {rows:,} rows in {time.perf_counter() - started:.1f}s")


def build_views() -> dict[str, Callable[[int], Callable[[], Any]]]:
    """method name -> (depth -> zero-argument callable doing one request)."""
    import graphene
    from bench.models import Event
    from django.db import connection
    from graphene_django import DjangoConnectionField, DjangoObjectType
    from graphql_relay import offset_to_cursor
    from rest_framework import generics, pagination, serializers
    from rest_framework.test import APIRequestFactory

    from nexus_api import pagination as nexus_pagination
    from nexus_api.graphql import KeysetConnectionField
    from nexus_api.keyset import Keyset

    class EventSerializer(serializers.ModelSerializer[Event]):
        class Meta:
            model = Event
            fields = ["id", "created_at", "title", "city", "price", "rank"]

    class Keyset50(nexus_pagination.KeysetPagination):
        page_size = PAGE

    class Pages50(pagination.PageNumberPagination):
        page_size = PAGE

    class NexusPages50(nexus_pagination.PageNumberPagination):
        page_size = PAGE
        max_page = 100_000

    class LimitOffset50(pagination.LimitOffsetPagination):
        default_limit = PAGE

    class Cursor50(pagination.CursorPagination):
        page_size = PAGE
        ordering = "-created_at"

    def view_for(paginator: type[Any]) -> Callable[..., Any]:
        class View(generics.ListAPIView[Event]):
            queryset = Event.objects.order_by("-created_at", "id")
            serializer_class = EventSerializer
            pagination_class = paginator
            ordering = ("-created_at",)
            authentication_classes = ()
            permission_classes = ()

        return View.as_view()

    factory = APIRequestFactory()
    ordered = Event.objects.order_by("-created_at", "id")

    def row_before(depth: int) -> Event | None:
        """The last row of the page before page ``depth``."""
        return None if depth == 1 else ordered[(depth - 1) * PAGE - 1]

    def http(view: Callable[..., Any], params: dict[str, Any]) -> Callable[[], Any]:
        def call() -> Any:
            response = view(factory.get("/events/", params))
            response.render()
            assert response.status_code == 200, response.content[:300]
            return response

        return call

    keyset_view = view_for(Keyset50)

    def keyset(depth: int) -> Callable[[], Any]:
        row = row_before(depth)
        if row is None:
            return http(keyset_view, {})
        ks = Keyset(Event, ("-created_at",), binding=["/events/", []])
        return http(keyset_view, {"cursor": ks.encode(ks.position(row))})

    cursor_view = view_for(Cursor50)

    def drf_cursor(depth: int) -> Callable[[], Any]:
        row = row_before(depth)
        if row is None:
            return http(cursor_view, {})
        paginator = Cursor50()
        paginator.base_url = "http://testserver/events/"
        # Position plus the number of earlier rows sharing it: what DRF's next link holds.
        offset = ordered.filter(created_at=row.created_at, id__lte=row.id).count()
        token = paginator.encode_cursor(
            pagination.Cursor(offset=offset, reverse=False, position=str(row.created_at))
        )
        return http(cursor_view, {"cursor": token.split("cursor=")[1]})

    pages_view, nexus_pages_view, limit_view = (
        view_for(Pages50),
        view_for(NexusPages50),
        view_for(LimitOffset50),
    )

    def bare_keyset(depth: int) -> Callable[[], Any]:
        row = row_before(depth)
        ks = Keyset(Event, ("-created_at",))
        cursor = None if row is None else ks.decode(ks.encode(ks.position(row)))
        queryset = ks.page_queryset(Event.objects.all(), size=PAGE, cursor=cursor)
        return lambda: list(queryset.all())

    class EventNode(DjangoObjectType):
        class Meta:
            model = Event
            fields = ("id", "created_at", "title", "city", "price", "rank")
            interfaces = (graphene.relay.Node,)

    class PrefetchedConnection(graphene.relay.Connection):
        class Meta:
            node = EventNode

    # The floor under any connection field: the same query over a page that is already in
    # memory (rows loaded, cursors signed), so only graphene's own work is timed.
    prefetched_rows = list(ordered[:PAGE])
    floor_keyset = Keyset(Event, ("-created_at",), binding=["Query", "prefetched", {}])
    prefetched_cursors = [floor_keyset.encode(floor_keyset.position(row)) for row in prefetched_rows]

    class Query(graphene.ObjectType):
        keyset = KeysetConnectionField(EventNode, ordering=("-created_at",))
        classic = DjangoConnectionField(EventNode)
        prefetched = graphene.Field(PrefetchedConnection, first=graphene.Int(), after=graphene.String())

        def resolve_classic(root: Any, info: Any, **kwargs: Any) -> Any:
            return Event.objects.order_by("-created_at", "id")

        def resolve_prefetched(root: Any, info: Any, **kwargs: Any) -> Any:
            edges = [
                PrefetchedConnection.Edge(node=row, cursor=cursor)
                for row, cursor in zip(prefetched_rows, prefetched_cursors, strict=True)
            ]
            page_info = graphene.relay.PageInfo(
                has_next_page=True,
                has_previous_page=False,
                start_cursor=prefetched_cursors[0],
                end_cursor=prefetched_cursors[-1],
            )
            return PrefetchedConnection(edges=edges, page_info=page_info)

    schema = graphene.Schema(query=Query)
    fields = "edges { cursor node { id createdAt title city price rank } } pageInfo { hasNextPage endCursor }"

    def graphql(field: str, after: str | None) -> Callable[[], Any]:
        query = f"query($after: String) {{ {field}(first: {PAGE}, after: $after) {{ {fields} }} }}"

        def call() -> Any:
            result = schema.execute(query, variable_values={"after": after})
            assert not result.errors, result.errors
            return result

        return call

    def graphql_keyset(depth: int) -> Callable[[], Any]:
        row = row_before(depth)
        if row is None:
            return graphql("keyset", None)
        ks = Keyset(Event, ("-created_at",), binding=["Query", "keyset", {}])
        return graphql("keyset", ks.encode(ks.position(row)))

    def graphql_classic(depth: int) -> Callable[[], Any]:
        return graphql("classic", None if depth == 1 else offset_to_cursor((depth - 1) * PAGE - 1))

    assert connection.vendor == "postgresql"
    return {
        "KeysetPagination": keyset,
        "DRF CursorPagination": drf_cursor,
        "DRF PageNumberPagination": lambda d: http(pages_view, {"page": d}),
        "DRF LimitOffsetPagination": lambda d: http(limit_view, {"limit": PAGE, "offset": (d - 1) * PAGE}),
        "nexus PageNumberPagination": lambda d: http(nexus_pages_view, {"page": d}),
        "KeysetConnectionField": graphql_keyset,
        "graphene DjangoConnectionField": graphql_classic,
        "graphene floor (page in memory)": lambda d: graphql("prefetched", None),
        "bare ORM keyset query": bare_keyset,
    }


def check_results(methods: dict[str, Callable[[int], Callable[[], Any]]]) -> None:
    """Every REST method returns the same 50 rows at a given depth (so we time equal work)."""
    for depth in DEPTHS:
        seen = {}
        for name in ("KeysetPagination", "DRF PageNumberPagination", "DRF LimitOffsetPagination"):
            response = methods[name](depth)()
            seen[name] = [row["id"] for row in response.data["results"]]
        assert len({tuple(ids) for ids in seen.values()}) == 1, (depth, seen)


def measure(
    methods: dict[str, Callable[[int], Callable[[], Any]]], repeat: int, warmup: int
) -> dict[str, list[float]]:
    """Median milliseconds per (method, depth).

    Every round times every cell once, in a new (seeded) order, so background load on the
    machine spreads over all methods instead of landing on whichever ran then. A request
    that directly follows a heavy one (a parallel ``COUNT(*)`` over a million rows) runs
    slower whatever it is, so each timed request follows an untimed one of the same cell:
    every cell is timed in the same steady state, whatever ran before it.
    """
    calls = {(name, depth): make(depth) for name, make in methods.items() for depth in DEPTHS}
    for call in calls.values():
        for _ in range(warmup):
            call()
    samples: dict[tuple[str, int], list[float]] = {cell: [] for cell in calls}
    order = list(calls)
    shuffle = random.Random(20_000).shuffle
    for _ in range(repeat):
        shuffle(order)
        for cell in order:
            call = calls[cell]
            call()
            started = time.perf_counter()
            call()
            samples[cell].append(time.perf_counter() - started)
    return {name: [statistics.median(samples[name, depth]) * 1000 for depth in DEPTHS] for name in methods}


def main() -> None:
    args = parse_args()
    db_name = args.keep_db or f"nexus_api_bench_{os.getpid()}"
    try:
        admin_execute(f'CREATE DATABASE "{db_name}"')
    except Exception:
        if not args.keep_db:
            raise
        # --keep-db: the database is already there; reuse it.
    try:
        setup_django(db_name)
        fill(args.rows)
        methods = build_views()
        if args.profile:
            profile(methods, args.profile, args.repeat)
            return
        if args.only:
            methods = {k: v for k, v in methods.items() if k in args.only.split(",")}
        else:
            check_results(methods)
        header = f"{'method':<32}" + "".join(f"{'depth ' + format(d, ','):>14}" for d in DEPTHS)
        print(f"\nmedian ms per page of {PAGE} ({args.rows:,} rows, {args.repeat} runs); ratio to depth 1\n")
        print(header)
        print("-" * len(header))
        for name, times in measure(methods, args.repeat, args.warmup).items():
            cells = "".join(f"{t:>8.2f} {t / times[0]:>4.1f}x" for t in times)
            print(f"{name:<32}{cells}", flush=True)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            admin_execute(f'DROP DATABASE IF EXISTS "{db_name}"')


if __name__ == "__main__":
    main()
