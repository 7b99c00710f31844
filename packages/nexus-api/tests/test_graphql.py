"""KeysetConnectionField through a real graphene schema."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from tests.keyset_helpers import expected_ids
from tests.keyset_models import KsItem, KsOrdered
from tests.keyset_schema import schema

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)

PAGE = """
query($first: Int, $last: Int, $after: String, $before: String, $name: String) {
  items(first: $first, last: $last, after: $after, before: $before, name: $name) {
    edges { cursor node { id name rank } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


@pytest.fixture
def items() -> list[KsItem]:
    for i in range(11):
        KsItem.objects.create(
            name="ab"[i % 2],
            rank=None if i % 3 == 0 else i % 4,
            created_at=T0 + datetime.timedelta(minutes=i // 4),
        )
    return list(KsItem.objects.all())


def run(query: str, **variables: Any) -> dict[str, Any]:
    result = schema.execute(query, variable_values=variables)
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


def error(query: str, **variables: Any) -> Any:
    result = schema.execute(query, variable_values=variables)
    assert result.errors, result.data
    return result.errors[0]


def ids(connection: dict[str, Any]) -> list[int]:
    return [int(edge["node"]["id"]) for edge in connection["edges"]]


def test_forward_and_backward_walks(items: list[KsItem]) -> None:
    expected = expected_ids(items, ["-created_at", "rank", "id"])
    seen: list[int] = []
    after = None
    while True:
        connection = run(PAGE, first=4, after=after)["items"]
        seen.extend(ids(connection))
        assert connection["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
        assert connection["edges"][-1]["cursor"] == after
    assert seen == expected
    back: list[int] = []
    before = None
    while True:
        connection = run(PAGE, last=3, before=before)["items"]
        back[:0] = ids(connection)
        assert connection["pageInfo"]["hasNextPage"] is (before is not None)
        if not connection["pageInfo"]["hasPreviousPage"]:
            break
        before = connection["pageInfo"]["startCursor"]
    assert back == expected


def test_after_an_edge_cursor_from_the_middle(items: list[KsItem]) -> None:
    connection = run(PAGE, first=6)["items"]
    middle = connection["edges"][2]["cursor"]
    assert ids(run(PAGE, first=3, after=middle)["items"]) == ids(connection)[3:6]
    assert ids(run(PAGE, last=2, before=middle)["items"]) == ids(connection)[:2]


def test_filter_arguments_bind_cursors(items: list[KsItem]) -> None:
    connection = run(PAGE, first=2, name="a")["items"]
    cursor = connection["pageInfo"]["endCursor"]
    assert run(PAGE, first=2, name="a", after=cursor)["items"]["edges"]
    err = error(PAGE, first=2, name="b", after=cursor)
    assert err.extensions == {"code": "INVALID_CURSOR"}


@pytest.mark.parametrize("cursor", ["garbage", "", "A" * 5000])
def test_invalid_cursor_is_a_graphql_error(items: list[KsItem], cursor: str) -> None:
    valid = run(PAGE, first=2)["items"]["pageInfo"]["endCursor"]
    for bad in (cursor or valid[:-3], valid + "x"):
        err = error(PAGE, first=2, after=bad)
        assert err.extensions == {"code": "INVALID_CURSOR"}
        assert "Invalid cursor" in err.message
        assert err.path == ["items"]


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"first": 101}, "maximum of 100"),
        ({"last": 500}, "maximum of 100"),
        ({"first": -1}, "negative"),
        ({"first": 1, "last": 1}, "not both"),
        ({"after": "x", "before": "y"}, "not both"),
        ({"first": 2, "before": "y"}, "forwards"),
    ],
)
def test_bad_arguments_are_graphql_errors(
    items: list[KsItem], variables: dict[str, Any], message: str
) -> None:
    err = error(PAGE, **variables)
    assert message in err.message
    assert err.extensions == {"code": "BAD_USER_INPUT"}


def test_max_first_per_field_and_total_count(items: list[KsItem], django_assert_num_queries: Any) -> None:
    query = "query($first: Int) { countedItems(first: $first) { totalCount edges { node { name } } } }"
    assert "maximum of 5" in error(query, first=6).message
    with django_assert_num_queries(2):
        data = run(query, first=5)["countedItems"]
    assert data["totalCount"] == 11
    assert [edge["node"]["name"] for edge in data["edges"]] == ["a"] * 5
    with django_assert_num_queries(1):
        run("{ countedItems(first: 2) { edges { cursor } pageInfo { endCursor } } }")


def test_page_info_runs_no_count(items: list[KsItem], django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1):
        run(PAGE, first=3)
    plain = schema.graphql_schema.get_type("ItemNodeKeysetConnection")
    counted = schema.graphql_schema.get_type("ItemNodeCountedKeysetConnection")
    assert "totalCount" not in plain.fields  # type: ignore[union-attr]
    assert "totalCount" in counted.fields  # type: ignore[union-attr]


def test_default_size_and_zero(items: list[KsItem], settings: Any) -> None:
    settings.NEXUS_API = {"PAGE_SIZE": 4}
    assert len(run("{ items { edges { cursor } } }")["items"]["edges"]) == 4
    empty = run("{ items(first: 0) { edges { cursor } pageInfo { hasNextPage endCursor } } }")["items"]
    assert empty == {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}


def test_meta_ordering_default_and_default_manager(items: list[KsItem]) -> None:
    for i in range(4):
        KsOrdered.objects.create(title=f"t{i}", position=i % 2)
    data = run("{ ordered(first: 10) { edges { node { id } } } }")["ordered"]
    expected = [o.pk for o in sorted(KsOrdered.objects.all(), key=lambda o: (-o.position, o.pk))]
    assert ids(data) == expected
    data = run("{ byPk(first: 3) { edges { node { id } } } }")["byPk"]
    assert ids(data) == sorted(item.pk for item in items)[:3]


def test_resolver_must_return_a_queryset(items: list[KsItem]) -> None:
    assert "must return a QuerySet" in error("{ broken(first: 1) { edges { cursor } } }").message


def test_requires_a_django_object_type() -> None:
    import graphene

    from nexus_api.graphql import KeysetConnectionField

    class Plain(graphene.ObjectType):
        name = graphene.String()

    with pytest.raises(TypeError, match="DjangoObjectType"):
        _ = KeysetConnectionField(Plain).type


def test_non_null_and_deprecation_reason_pass_through() -> None:
    import graphene

    from nexus_api.graphql import KeysetConnectionField

    from tests.keyset_schema import ItemNode

    class Q(graphene.ObjectType):
        old_items = KeysetConnectionField(
            ItemNode, required=True, deprecation_reason="Use items in version 2."
        )

    sdl = str(graphene.Schema(query=Q))
    assert "oldItems(" in sdl
    assert 'ItemNodeKeysetConnection! @deprecated(reason: "Use items in version 2.")' in sdl


def test_edge_cursors_are_signed_together_and_only_when_selected(
    items: list[KsItem], monkeypatch: pytest.MonkeyPatch
) -> None:
    from nexus_api.keyset import CursorEncoder, Keyset

    batches: list[int] = []
    many = CursorEncoder.many

    def counting(self: CursorEncoder, positions: Any, reverse: bool = False) -> list[str]:
        tokens = many(self, positions, reverse)
        batches.append(len(tokens))
        return tokens

    monkeypatch.setattr(CursorEncoder, "many", counting)
    run("{ items(first: 4) { edges { node { id } } pageInfo { hasNextPage endCursor } } }")
    assert batches == []
    data = run("{ items(first: 4) { edges { cursor node { id } } pageInfo { endCursor } } }")["items"]
    assert batches == [4]
    # Every edge cursor is the one the engine signs for that row, and each one pages on.
    keyset = Keyset(KsItem, ("-created_at", "rank"), binding=["Query", "items", {}])
    rows = {row.pk: row for row in items}
    for edge in data["edges"]:
        assert edge["cursor"] == keyset.encode(keyset.position(rows[int(edge["node"]["id"])]))
    assert data["edges"][-1]["cursor"] == data["pageInfo"]["endCursor"]
    following = run(PAGE, first=2, after=data["edges"][1]["cursor"])["items"]
    assert ids(following) == [int(edge["node"]["id"]) for edge in data["edges"][2:4]]
