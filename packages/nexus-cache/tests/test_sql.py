"""The statement classifier: reads, writes, rows, and conservatism on the unknown."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nexus_cache._sql import Kind, TableMeta, parse, tokenize

META = TableMeta({"t": "id", "u": "id", "listing": "id", "child": "place_ptr_id"})


def p(sql: str):  # type: ignore[no-untyped-def]
    return parse(sql, META)


@pytest.mark.parametrize(
    ("sql", "table", "rows", "inserts", "bulk"),
    [
        ('UPDATE "t" SET "a" = %s, "b" = %s WHERE "t"."id" = %s', "t", (2,), False, False),
        ('DELETE FROM "t" WHERE "t"."id" IN (%s, %s)', "t", (0, 1), False, False),
        ('INSERT INTO "t" ("a") VALUES (%s) RETURNING "t"."id"', "t", None, True, False),
        ("INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET a = EXCLUDED.a", "t", None, True, True),
        ("INSERT INTO t (a) VALUES (1) ON CONFLICT DO NOTHING", "t", None, True, False),
        ("INSERT OR REPLACE INTO t (a) VALUES (1)", "t", None, True, True),
        ("REPLACE INTO t (a) VALUES (1)", "t", None, True, True),
        ("UPDATE t SET a = %s WHERE a = %s", "t", None, False, True),
        ("UPDATE ONLY public.t SET a = 1", "t", None, False, True),
        ('UPDATE "t" SET "a" = 1 WHERE "t"."id" IN (SELECT U0."id" FROM "t" U0)', "t", None, False, True),
        ("DELETE FROM t", "t", None, False, True),
        ("MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DELETE", "t", None, True, True),
        ("COPY t FROM STDIN", "t", None, True, True),
        ('UPDATE "child" SET "stars" = %s WHERE "child"."place_ptr_id" = %s', "child", (1,), False, False),
        ("update t set id = 9 where id = 5", "t", (), True, False),
    ],
)
def test_writes(sql: str, table: str, rows: tuple[int, ...] | None, inserts: bool, bulk: bool) -> None:
    stmt = p(sql)
    assert stmt.kind is Kind.WRITE
    [w] = stmt.writes
    assert w.table == table
    assert (w.rows.param_indexes if w.rows else None) == rows
    assert (w.inserts, w.bulk) == (inserts, bulk)


def test_row_keys_from_parameters_and_literals() -> None:
    [w] = p('DELETE FROM "t" WHERE "t"."id" IN (%s, %s)').writes
    assert w.rows is not None
    assert w.rows.keys((3, 4), many=False) == {"3", "4"}
    assert w.rows.keys([(3, 4), (5, 6)], many=True) == {"3", "4", "5", "6"}
    assert w.rows.keys({"a": 1}, many=False) is None
    assert w.rows.keys((3,), many=False) is None
    [w] = p("UPDATE t SET a = 1 WHERE id = 'x''y'").writes
    assert w.rows is not None
    assert w.rows.keys(None, many=False) == {"x'y"}


@pytest.mark.parametrize(
    "sql",
    [
        "WITH x AS (UPDATE t SET a = 1 RETURNING id) SELECT * FROM x",
        "WITH x AS (DELETE FROM t RETURNING id) SELECT * FROM x",
        "WITH x AS (INSERT INTO t (a) VALUES (1) RETURNING id) SELECT * FROM x",
        "EXPLAIN ANALYZE UPDATE t SET a = 1",
    ],
)
def test_data_modifying_with_and_explain_analyze(sql: str) -> None:
    stmt = p(sql)
    assert stmt.kind is Kind.WRITE
    assert [w.table for w in stmt.writes] == ["t"]


@pytest.mark.parametrize(
    "sql",
    [
        "CALL proc()",
        "DO $$ BEGIN UPDATE t SET a = 1; END $$",
        "CREATE TABLE x (a int)",
        "TRUNCATE t CASCADE",
        "GRANT x",
    ],
)
def test_unknown_writes_are_conservative(sql: str) -> None:
    stmt = p(sql)
    assert stmt.kind is Kind.WRITE
    assert stmt.unknown_write


def test_truncate_lists_tables() -> None:
    stmt = p('TRUNCATE TABLE "t", ONLY u RESTART IDENTITY')
    assert [w.table for w in stmt.writes] == ["t", "u"]
    assert not stmt.unknown_write


@pytest.mark.parametrize(
    "sql",
    [
        "BEGIN",
        "COMMIT",
        'SAVEPOINT "s1"',
        'RELEASE SAVEPOINT "s1"',
        "SET TIME ZONE 'UTC'",
        "COPY t TO STDOUT",
        "EXPLAIN SELECT 1",
        "",
        "  ",
    ],
)
def test_neutral(sql: str) -> None:
    assert p(sql).kind is Kind.NEUTRAL


def test_reads() -> None:
    stmt = p('SELECT "t"."id" FROM "t" WHERE "t"."id" = %s LIMIT 21')
    assert stmt.kind is Kind.READ
    assert stmt.tables == {"t"}
    assert stmt.row_read is not None
    assert stmt.row_read.param_indexes == (0,)
    join = p('SELECT * FROM "listing" INNER JOIN "u" ON ("listing"."h" = "u"."id") WHERE "listing"."id" = %s')
    assert join.tables == {"listing", "u"}
    assert join.row_read is not None
    assert join.row_read.table == "listing"
    sub = p("SELECT * FROM u WHERE id IN (SELECT id FROM t)")
    assert sub.tables == {"u", "t"}
    assert sub.row_read is None
    assert p("SELECT * FROM t WHERE id = %s AND a = %s").row_read is None
    assert p("SELECT 'FROM u' FROM t").tables == {"t"}
    assert p("SELECT 1").tables == frozenset()


def test_unknown_relations_make_a_read_opaque() -> None:
    assert p("SELECT * FROM some_view").opaque
    assert not p("SELECT * FROM generate_series(1, 3)").opaque
    assert not p("WITH x AS (SELECT 1) SELECT * FROM x").opaque
    assert not p("SELECT * FROM public.t").opaque


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_never_crashes_and_never_calls_garbage_a_read(sql: str) -> None:
    tokenize(sql)
    stmt = parse(sql, META)
    if stmt.kind is Kind.READ:
        first = (
            sql.lstrip(" \t\r\n\x0b\x0c(").split(None, 1)[0].upper() if sql.strip(" \t\r\n\x0b\x0c(") else ""
        )
        assert first.startswith(("SELECT", "VALUES", "TABLE", "WITH"))


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["t", "u", "listing"]), st.integers(min_value=1, max_value=5))
def test_pk_in_lists_of_any_length(table: str, n: int) -> None:
    holders = ", ".join(["%s"] * n)
    [w] = p(f'DELETE FROM "{table}" WHERE "{table}"."id" IN ({holders})').writes
    assert w.rows is not None
    assert w.rows.keys(tuple(range(n)), many=False) == {str(i) for i in range(n)}


@pytest.mark.parametrize(
    ("sql", "tag"),
    [
        ('UPDATE "t" SET "a" = 1 WHERE "t"."id" = 2', "/*nexus_cache:t*/"),
        ("WITH x AS (UPDATE u SET a = 1 RETURNING id) DELETE FROM t", "/*nexus_cache:t,u*/"),
        ("CALL refresh_everything()", "/*nexus_cache:**/"),
        ("UPDATE t SET a = 1; UPDATE u SET a = 1", None),  # maybe two statements: untagged
        ("UPDATE t SET a = 'x;y'", None),  # (conservative: any semicolon)
        ('UPDATE "we ird" SET a = 1', None),  # a name the trigger's list could not hold
        ("UPDATE ignored SET a = 1", None),  # IGNORE_TABLES: nexus-cache did not handle it
    ],
)
def test_handled_writes_are_tagged_for_the_postgres_trigger(sql: str, tag: str | None) -> None:
    from django.test import override_settings

    from nexus_cache._tracking import tag_handled

    with override_settings(NEXUS_CACHE={"IGNORE_TABLES": ["ignored"]}):
        tagged = tag_handled(sql, p(sql))
    if tag is None:
        assert tagged == sql
    else:
        assert tagged == f"{sql}\n{tag}"
