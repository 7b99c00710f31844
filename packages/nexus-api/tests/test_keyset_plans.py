"""Query plans: a deep page is an index range scan, with no sort, on the matching index."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection

from nexus_api.keyset import Cursor, Keyset, count_rows

from tests.keyset_models import KsItem

pytestmark = pytest.mark.django_db

START = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)


def fill(rows: int) -> None:
    table = KsItem._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"""
                INSERT INTO {table} (name, rank, score, created_at, day, uid, host_id)
                SELECT md5(i::text), i %% 7, NULL, %s + (i / 3) * interval '1 second', NULL,
                       md5(i::text)::uuid, NULL
                FROM generate_series(1, %s) AS i
                """,
                [START, rows],
            )
        else:
            KsItem.objects.bulk_create(
                KsItem(name=f"n{i:05d}", rank=i % 7, created_at=START + datetime.timedelta(seconds=i // 3))
                for i in range(rows)
            )
        cursor.execute(f"ANALYZE {table}")


def deep_cursor(keyset: Keyset, depth: int, reverse: bool) -> Cursor:
    row = keyset.order(KsItem.objects.all())[depth]
    return keyset.decode(keyset.encode(keyset.position(row), reverse=reverse))


@pytest.mark.parametrize(
    ("ordering", "index"),
    [(("-created_at",), "ks_item_created_id"), (("name",), "ks_item_name_id"), (("-pk",), None)],
)
@pytest.mark.parametrize("reverse", [False, True])
def test_deep_page_uses_the_index_without_sort(
    ordering: tuple[str, ...], index: str | None, reverse: bool
) -> None:
    rows = 20_000 if connection.vendor == "postgresql" else 3_000
    fill(rows)
    keyset = Keyset(KsItem, ordering)
    cursor = deep_cursor(keyset, rows // 2, reverse)
    plan = keyset.page_queryset(KsItem.objects.all(), size=50, cursor=cursor).explain()
    if connection.vendor == "postgresql":
        assert "Index Cond" in plan, plan
        assert index is None or index in plan, plan
        assert "Sort" not in plan, plan
    else:
        assert "USING INDEX" in plan or "USING INTEGER PRIMARY KEY" in plan, plan
        assert index is None or index in plan, plan
        assert "TEMP B-TREE" not in plan, plan
    assert len(keyset.page(KsItem.objects.all(), size=50, cursor=cursor).rows) == 50


@pytest.mark.requires_postgres
def test_postgres_estimate_count_uses_the_planner() -> None:
    fill(20_000)
    estimate = count_rows(KsItem.objects.all(), "estimate")
    assert estimate is not None
    assert abs(estimate - 20_000) < 4_000
    assert count_rows(KsItem.objects.filter(rank=99), "estimate") == 0  # small: counted exactly
