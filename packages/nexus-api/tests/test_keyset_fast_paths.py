"""The engine's shortcuts give exactly what the straightforward Django calls give.

The page query is built on one clone with the seek condition added as a predicate (not
through ``filter()``), and cursors are signed and verified without ``Signer``'s round trips;
these tests pin both to the behaviour of the long way round.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core import signing
from django.db import NotSupportedError
from django.test import override_settings

from nexus_api.keyset import Cursor, CursorError, Keyset
from nexus_api.keyset._cursor import decode_cursor, encode_cursor
from nexus_api.keyset._where import after_position

from tests.keyset_models import KsHost, KsItem

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
SALT = "nexus_api.keyset.cursor"


def make_items(count: int = 14) -> list[KsItem]:
    hosts = [KsHost.objects.create(name=name) for name in ("ann", None, "bob")]
    for i in range(count):
        KsItem.objects.create(
            name="abc"[i % 3],
            rank=None if i % 4 == 0 else i % 3,
            created_at=T0 + datetime.timedelta(hours=i // 2),
            host=None if i % 5 == 0 else hosts[i % 3],
        )
    return list(KsItem.objects.select_related("host"))


def _long_way(keyset: Keyset, queryset: Any, size: int, cursor: Cursor) -> list[int]:
    """The page query as ``filter().order_by()[:n]`` would build it."""
    condition = after_position(keyset.keys, cursor.position, reverse=cursor.reverse, inclusive=True)
    assert condition is not None
    return [row.pk for row in keyset.order(queryset.filter(condition), reverse=cursor.reverse)[: size + 2]]


@pytest.mark.parametrize(
    "ordering", [["-created_at"], ["name"], ["rank", "-name"], ["host__name", "-created_at"], ["-rank"]]
)
@pytest.mark.parametrize("reverse", [False, True])
def test_page_query_matches_filter_order_slice(ordering: list[str], reverse: bool) -> None:
    rows = make_items()
    keyset = Keyset(KsItem, ordering)
    queryset = KsItem.objects.filter(name__in=["a", "b"])
    for row in rows:
        cursor = Cursor(keyset.position(_annotated(keyset, row)), reverse=reverse)
        fast = keyset.page_queryset(queryset, size=3, cursor=cursor)
        assert [r.pk for r in fast] == _long_way(keyset, queryset, 3, cursor), (ordering, row.pk)


def _annotated(keyset: Keyset, row: KsItem) -> Any:
    # Positions of related keys are read from the page query's annotation.
    return keyset.page_queryset(KsItem.objects.filter(pk=row.pk), size=1)[0]


def test_page_query_is_one_predicate_and_leaves_the_queryset_alone() -> None:
    make_items(4)
    keyset = Keyset(KsItem, ["-created_at"])
    queryset = KsItem.objects.filter(name="a").order_by("name")
    before = str(queryset.query)
    sql = str(keyset.page_queryset(queryset, size=2, cursor=Cursor((T0, 3))).query).upper()
    assert str(queryset.query) == before
    assert "= TRUE" not in sql
    assert ") = 1" not in sql
    assert '"TESTS_KSITEM"."NAME" = ' in sql
    assert sql.endswith("LIMIT 4")
    assert 'ORDER BY "TESTS_KSITEM"."CREATED_AT" DESC, "TESTS_KSITEM"."ID" ASC' in sql


def test_nullable_related_key_keeps_its_outer_join() -> None:
    make_items(6)
    keyset = Keyset(KsItem, ["host__name"])
    sql = str(keyset.page_queryset(KsItem.objects.all(), size=2, cursor=Cursor((None, 3))).query).upper()
    assert "LEFT OUTER JOIN" in sql
    assert " INNER JOIN" not in sql


def test_related_manager_querysets_keep_their_filter() -> None:
    make_items(12)
    host = KsHost.objects.get(name="ann")
    keyset = Keyset(KsItem, ["-created_at"])
    first = keyset.page(host.items.all(), size=2)
    following = keyset.page(host.items.all(), size=50, cursor=Cursor(first.end))  # type: ignore[arg-type]
    ids = [row.pk for row in first.rows + following.rows]
    assert ids == list(host.items.order_by("-created_at", "id").values_list("pk", flat=True))


def test_combined_querysets_keep_djangos_rules() -> None:
    make_items(6)
    keyset = Keyset(KsItem, ["name"])
    union = KsItem.objects.filter(name="a").union(KsItem.objects.filter(name="b"))
    page = keyset.page(union, size=50)
    assert sorted(row.name for row in page.rows) == ["a", "a", "b", "b"]
    with pytest.raises(NotSupportedError):
        keyset.page(union, size=2, cursor=Cursor(("a", 1)))


# Signing -----------------------------------------------------------------------------------


def test_cursors_are_djangos_signed_objects() -> None:
    signer = signing.Signer(salt=SALT, sep=".")
    for values in ((T0, 5), ("x" * 200, 7)):  # the second is compressed
        token = encode_cursor(Cursor(values), binding="list", salt=SALT)
        assert signer.unsign_object(token)[:3] == [1, "list", 0]
        assert token.startswith(".") == (len(values[0]) == 200 if isinstance(values[0], str) else False)
        # ...and Django's own signed objects are read back the same way.
        payload = signer.unsign_object(token)
        for compress in (False, True):
            again = signer.sign_object(payload, compress=compress)
            assert decode_cursor(again, binding="list", salt=SALT, length=2) == Cursor(values)


def test_fallback_keys_verify_compressed_cursors_too() -> None:
    with override_settings(SECRET_KEY="old-key-" * 8):
        token = encode_cursor(Cursor(("y" * 300, 1)), binding="b", salt=SALT)
    assert token.startswith(".")
    with override_settings(SECRET_KEY="new-key-" * 8, SECRET_KEY_FALLBACKS=["old-key-" * 8]):
        assert decode_cursor(token, binding="b", salt=SALT, length=2).position == ("y" * 300, 1)
    with override_settings(SECRET_KEY="new-key-" * 8), pytest.raises(CursorError, match="signature"):
        decode_cursor(token, binding="b", salt=SALT, length=2)


@pytest.mark.parametrize("token", ["nosep", ".", "a.", ".sig", "a.b.c", "\u00e9.\u00e9"])
def test_unsignable_tokens_are_cursor_errors(token: str) -> None:
    with pytest.raises(CursorError, match="signature"):
        decode_cursor(token, binding="b", salt=SALT, length=2)


def test_signed_garbage_is_a_cursor_error() -> None:
    signer = signing.Signer(salt=SALT, sep=".")
    for value in ("!!!", ".!!!", "eyJ"):
        with pytest.raises(CursorError, match="cannot be decoded"):
            decode_cursor(signer.sign(value), binding="b", salt=SALT, length=2)


# Expression copies ---------------------------------------------------------------------------


def test_fast_copies_equal_copy_copy() -> None:
    import copy

    from nexus_api.keyset._ordering import KeyOrderBy, fast_copy

    keyset = Keyset(KsItem, ["rank", "-name"])
    condition = after_position(keyset.keys, (1, "a", 3), reverse=False)
    assert condition is not None
    order = keyset.keys[0].order_by(reverse=True)
    assert isinstance(order, KeyOrderBy)
    for expression in (order, condition):
        expected = copy.copy(expression)
        clone = expression.copy()
        assert type(clone) is type(expression)
        assert clone is not expression
        assert clone.__dict__ == expected.__dict__
        assert fast_copy(expression).__dict__ == expected.__dict__
    reversed_order = order.copy()
    reversed_order.reverse_ordering()
    assert (order.descending, order.nulls_first, order.nulls_last) == (True, True, None)
    assert (reversed_order.descending, reversed_order.nulls_last) == (False, True)


def test_reversed_querysets_reverse_the_key_ordering() -> None:
    make_items(6)
    keyset = Keyset(KsItem, ["rank", "-name"])
    forward = [row.pk for row in keyset.order(KsItem.objects.all())]
    backward = [row.pk for row in keyset.order(KsItem.objects.all()).reverse()]
    assert backward == forward[::-1]
    assert [row.pk for row in keyset.order(KsItem.objects.all(), reverse=True)] == backward


@pytest.mark.parametrize("reverse", [False, True])
def test_batch_signing_equals_one_by_one(reverse: bool) -> None:
    from nexus_api.keyset import CursorEncoder

    encode = CursorEncoder(binding="list", salt=SALT)
    positions = [(T0, 1), (None, 2), ("x" * 300, 3), ("short", 4), (datetime.date(2024, 2, 29), 5)]
    tokens = encode.many(positions, reverse)
    assert tokens == [encode(position, reverse) for position in positions]
    assert tokens[2].startswith(".")  # compressed, through the one-by-one path
    assert [decode_cursor(t, binding="list", salt=SALT, length=2).position for t in tokens] == positions
    assert encode.many([]) == []
