"""The keyset engine on its own: ordering resolution, WHERE forms, cursors, paging."""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.test import override_settings

from nexus_api.keyset import Cursor, CursorError, Keyset, count_rows, resolve_ordering, validate_policy

from tests.keyset_helpers import expected_ids, walk_backward, walk_forward
from tests.keyset_models import KsHost, KsItem, KsOrdered

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)


def make_items(count: int = 12) -> list[KsItem]:
    hosts = [KsHost.objects.create(name=name) for name in ("ann", None, "bob")]
    items = []
    for i in range(count):
        items.append(
            KsItem.objects.create(
                name="abc"[i % 3],
                rank=None if i % 4 == 0 else i % 3,
                score=None if i % 5 == 0 else decimal.Decimal(i % 4) / 4,
                created_at=T0 + datetime.timedelta(hours=i // 2),
                day=None if i % 3 == 0 else datetime.date(2024, 1, 1 + i % 2),
                host=None if i % 6 == 0 else hosts[i % 3],
            )
        )
    return list(KsItem.objects.select_related("host"))


# Ordering resolution ---------------------------------------------------------------------


def test_pk_is_appended_as_tie_breaker() -> None:
    keys = resolve_ordering(KsItem, ["-created_at", "name"])
    assert [key.term for key in keys] == ["-created_at", "name", "id"]
    assert [key.nullable for key in keys] == [False, False, False]


def test_unique_column_ends_the_ordering() -> None:
    assert [key.term for key in resolve_ordering(KsItem, ["-pk", "name"])] == ["-id"]
    assert [key.term for key in resolve_ordering(KsItem, ["uid"])] == ["uid"]


def test_nullable_and_related_fields() -> None:
    keys = resolve_ordering(KsItem, ["rank", "host__name", "host"])
    assert [(key.path, key.nullable) for key in keys] == [
        ("rank", True),
        ("host__name", True),
        ("host_id", True),
        ("id", False),
    ]


def test_duplicate_terms_are_dropped() -> None:
    assert [key.term for key in resolve_ordering(KsItem, ["name", "-name", "+name"])] == ["name", "id"]


@pytest.mark.parametrize(
    ("ordering", "message"),
    [
        (["nope"], "has no field 'nope'"),
        (["host__items__name"], "to-many"),
        (["name__foo"], "not a relation"),
        (["?"], "pagination can follow"),
        (["--name"], "pagination can follow"),
        ([F("name").asc()], "must be field names"),
        (["host__nope"], "has no field 'nope'"),
    ],
)
def test_bad_orderings_are_explained(ordering: list[Any], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        resolve_ordering(KsItem, ordering)


def test_reverse_relation_needs_a_field() -> None:
    with pytest.raises(ImproperlyConfigured, match="to-many"):
        resolve_ordering(KsHost, ["items"])


# WHERE forms -----------------------------------------------------------------------------


def _where_sql(keyset: Keyset, position: tuple[Any, ...], reverse: bool = False) -> str:
    from nexus_api.keyset._where import after_position

    condition = after_position(keyset.keys, position, reverse=reverse)
    assert condition is not None
    return str(KsItem.objects.filter(condition).query).upper()


def test_same_direction_non_null_keys_use_a_row_value_comparison() -> None:
    keyset = Keyset(KsItem, ["name"])
    sql = _where_sql(keyset, ("b", 5))
    assert '("TESTS_KSITEM"."NAME", "TESTS_KSITEM"."ID") >' in sql
    assert " OR " not in sql
    assert ") <" in _where_sql(keyset, ("b", 5), reverse=True)


def test_pk_only_ordering_is_a_single_comparison() -> None:
    sql = _where_sql(Keyset(KsItem, ["-pk"]), (7,))
    assert '"TESTS_KSITEM"."ID" < 7' in sql


def test_mixed_directions_use_or_form_with_leading_bound() -> None:
    sql = _where_sql(Keyset(KsItem, ["-created_at"]), (T0, 5))
    assert '"TESTS_KSITEM"."CREATED_AT" <=' in sql
    assert " OR " in sql
    assert "IS NULL" not in sql


def test_or_form_is_opaque_to_the_postgresql_planner_only() -> None:
    from django.db import connection

    sql = _where_sql(Keyset(KsItem, ["-created_at"]), (T0, 5))
    if connection.vendor == "postgresql":
        assert '"TESTS_KSITEM"."CREATED_AT" <=' in sql.split("CASE WHEN")[0]
        assert "THEN TRUE ELSE FALSE END" in sql
    else:
        assert "CASE" not in sql
    # Same-direction keys keep the bare row-value comparison everywhere.
    assert "CASE" not in _where_sql(Keyset(KsItem, ["name"]), ("b", 5))


def test_nullable_keys_get_null_branches_only_for_themselves() -> None:
    sql = _where_sql(Keyset(KsItem, ["rank", "name"]), (1, "a", 3))
    assert '"TESTS_KSITEM"."RANK" IS NULL' in sql
    assert '"TESTS_KSITEM"."NAME" IS NULL' not in sql


def test_after_null_in_last_ascending_key_is_empty() -> None:
    make_items(4)
    keyset = Keyset(KsItem, ["-pk"])
    from nexus_api.keyset._ordering import Key
    from nexus_api.keyset._where import after_position

    key = Key("rank", False, True)
    assert after_position([key], (None,), reverse=False) is None
    page = Keyset(KsItem, ["rank", "-pk"]).page(KsItem.objects.all(), size=5, cursor=Cursor((None, 0)))
    assert page.rows == []
    assert page.has_previous
    assert keyset.keys[0].path == "id"


# Paging ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ordering",
    [
        ["-created_at"],
        ["name"],
        ["rank", "-name"],
        ["-rank", "score"],
        ["-day", "-score", "name"],
        ["host__name", "-created_at"],
        ["-host__name"],
        ["host", "-rank"],
        ["-id"],
    ],
)
@pytest.mark.parametrize("size", [1, 3, 5])
def test_walks_return_every_row_once_in_order(ordering: list[str], size: int) -> None:
    items = make_items()
    queryset = KsItem.objects.all()
    keyset = Keyset.for_queryset(queryset, ordering)
    expected = expected_ids(items, [key.term for key in keyset.keys])
    forward = walk_forward(keyset, queryset, size)
    assert [pk for page in forward for pk in page] == expected
    assert all(len(page) == size for page in forward[:-1])
    backward = walk_backward(keyset, queryset, size)
    assert [pk for page in backward for pk in page] == expected


def test_annotation_ordering() -> None:
    items = make_items(8)
    queryset = KsItem.objects.annotate(weight=Coalesce("rank", Value(9)) * 2)
    keyset = Keyset.for_queryset(queryset, ["-weight"])
    assert keyset.keys[0].nullable
    forward = walk_forward(keyset, queryset, 3)
    weights = {item.pk: (item.rank if item.rank is not None else 9) * 2 for item in items}
    expected = sorted(weights, key=lambda pk: (-weights[pk], pk))
    assert [pk for page in forward for pk in page] == expected


def test_values_querysets_are_paged() -> None:
    make_items(6)
    queryset = KsItem.objects.values("id", "name", "host__name")
    keyset = Keyset.for_queryset(queryset, ["host__name", "name"])
    page = keyset.page(queryset, size=4)
    assert len(page.rows) == 4
    nxt = keyset.page(queryset, size=4, cursor=keyset.decode(keyset.next_cursor(page) or ""))
    assert {row["id"] for row in page.rows}.isdisjoint(row["id"] for row in nxt.rows)


def test_model_meta_ordering_and_empty_list() -> None:
    keyset = Keyset(KsOrdered, KsOrdered._meta.ordering)  # type: ignore[arg-type]
    page = keyset.page(KsOrdered.objects.all(), size=2)
    assert page.rows == []
    assert (page.has_next, page.has_previous, page.start) == (False, False, None)
    assert keyset.next_cursor(page) is None
    assert keyset.previous_cursor(page) is None


def test_empty_page_after_cursor_keeps_position_for_previous() -> None:
    items = make_items(3)
    keyset = Keyset(KsItem, ["name"])
    position = keyset.position(max(items, key=lambda item: (item.name, item.pk)))
    page = keyset.page(KsItem.objects.all(), size=2, cursor=Cursor(position))
    assert page.rows == []
    assert page.start == position
    back = keyset.page(KsItem.objects.all(), size=2, cursor=keyset.decode(keyset.previous_cursor(page) or ""))
    assert len(back.rows) == 2
    assert back.has_next


def test_sliced_queryset_and_bad_size_are_refused() -> None:
    keyset = Keyset(KsItem, ["name"])
    with pytest.raises(TypeError, match="unsliced"):
        keyset.page(KsItem.objects.all()[:3], size=2)
    with pytest.raises(ValueError, match="at least 1"):
        keyset.page(KsItem.objects.all(), size=0)


# Cursors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        7,
        "text",
        "t",
        ["x"],
        T0,
        datetime.datetime(2024, 5, 6, 7, 8, 9, 123456),
        datetime.date(2024, 2, 29),
        datetime.time(23, 59, 1, 5),
        decimal.Decimal("-12.340"),
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        0.1,
        datetime.timedelta(days=2, seconds=3, microseconds=4),
        b"\x00\xff",
    ],
)
def test_cursor_values_keep_their_type(value: Any) -> None:
    from nexus_api.keyset._cursor import decode_cursor, encode_cursor

    if isinstance(value, list):
        with pytest.raises(TypeError, match="cannot be stored"):
            encode_cursor(Cursor((value,)), binding="b", salt="s")
        return
    token = encode_cursor(Cursor((value, 1), reverse=True), binding="b", salt="s")
    decoded = decode_cursor(token, binding="b", salt="s", length=2)
    assert decoded == Cursor((value, 1), reverse=True)
    assert type(decoded.position[0]) is type(value)


def test_cursor_is_compact_and_url_safe() -> None:
    keyset = Keyset(KsItem, ["-created_at"])
    token = keyset.encode((T0, 123456))
    assert len(token) < 120
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def _tampered(token: str) -> list[str]:
    flipped = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    return [
        flipped,
        token[:-1],
        token[: len(token) // 2],
        token + "x",
        "x" + token,
        "garbage",
        "...",
        "a" * 5000,
    ]


def test_tampered_and_truncated_cursors_are_rejected() -> None:
    keyset = Keyset(KsItem, ["-created_at"])
    token = keyset.encode((T0, 5))
    for bad in _tampered(token):
        with pytest.raises(CursorError):
            keyset.decode(bad)
    with pytest.raises(CursorError, match="empty"):
        keyset.decode("")


def test_cursor_is_bound_to_ordering_model_and_filters() -> None:
    token = Keyset(KsItem, ["name"], binding={"city": "x"}).encode(("a", 1))
    assert Keyset(KsItem, ["name"], binding={"city": "x"}).decode(token).position == ("a", 1)
    for other in (
        Keyset(KsItem, ["-name"], binding={"city": "x"}),
        Keyset(KsItem, ["name"], binding={"city": "y"}),
        Keyset(KsItem, ["name"]),
        Keyset(KsOrdered, ["title"], binding={"city": "x"}),
    ):
        with pytest.raises(CursorError, match="different list"):
            other.decode(token)


def test_cursor_values_are_checked_against_the_keys() -> None:
    from nexus_api.keyset._cursor import encode_cursor

    keyset = Keyset(KsItem, ["name"])
    salt = "nexus_api.keyset.cursor"
    with pytest.raises(CursorError, match="cannot be NULL"):
        keyset.decode(encode_cursor(Cursor((None, 1)), binding=keyset.binding, salt=salt))
    with pytest.raises(CursorError, match="sort keys"):
        keyset.decode(encode_cursor(Cursor(("a",)), binding=keyset.binding, salt=salt))
    with pytest.raises(CursorError, match="invalid value"):
        keyset.decode(encode_cursor(Cursor(("a", "not-a-number")), binding=keyset.binding, salt=salt))
    dated = Keyset(KsItem, ["day"])
    with pytest.raises(CursorError, match="invalid value"):
        dated.decode(encode_cursor(Cursor(("2024-13-45", 1)), binding=dated.binding, salt=salt))


def test_malformed_signed_payloads_are_rejected() -> None:
    from django.core import signing

    from nexus_api.keyset._cursor import _decode_value

    signer = signing.Signer(salt="nexus_api.keyset.cursor", sep=".")
    keyset = Keyset(KsItem, ["name"])
    for payload in ([2, keyset.binding, 0, ["a", 1]], {"a": 1}, [1, keyset.binding, 5, ["a", 1]]):
        with pytest.raises(CursorError):
            keyset.decode(signer.sign_object(payload))
    with pytest.raises(CursorError):
        keyset.decode(signer.sign("not json at all"))
    for raw in (["t", "not a date"], ["?", 1], {"a": 1}, ["s", [1]]):
        with pytest.raises(CursorError):
            _decode_value(raw)


def test_secret_key_rotation_keeps_cursors_valid() -> None:
    keyset = Keyset(KsItem, ["name"])
    with override_settings(SECRET_KEY="old-key-" * 8):
        token = keyset.encode(("a", 1))
    with override_settings(SECRET_KEY="new-key-" * 8, SECRET_KEY_FALLBACKS=["old-key-" * 8]):
        assert keyset.decode(token).position == ("a", 1)
    with override_settings(SECRET_KEY="new-key-" * 8, SECRET_KEY_FALLBACKS=[]), pytest.raises(CursorError):
        keyset.decode(token)


def test_salt_change_invalidates_cursors() -> None:
    keyset = Keyset(KsItem, ["name"])
    token = keyset.encode(("a", 1))
    with override_settings(NEXUS_API={"CURSOR_SALT": "other"}), pytest.raises(CursorError, match="signature"):
        keyset.decode(token)


# Counts ------------------------------------------------------------------------------------


def test_count_policies() -> None:
    make_items(7)
    queryset = KsItem.objects.filter(name="a")
    assert count_rows(queryset, "none") is None
    assert count_rows(queryset) is None
    assert count_rows(queryset, "exact") == 3
    assert count_rows(queryset, "estimate") == 3  # small tables are counted exactly
    assert count_rows(queryset, "cached") == 3
    KsItem.objects.filter(name="a").first().delete()  # type: ignore[union-attr]
    assert count_rows(queryset, "exact") == 2
    with pytest.raises(ValueError, match="Unknown count policy"):
        validate_policy("sometimes")
    with override_settings(NEXUS_API={"COUNT_POLICY": "exact"}):
        assert count_rows(queryset) == 2
