"""Relay connections for graphene-django on the keyset engine (needs the ``graphql`` extra).

``KeysetConnectionField(ListingNode, ordering=("-created_at",))`` pages with the same
signed cursors and the same constant-cost queries as ``KeysetPagination``: no ``COUNT(*)``
for ``pageInfo`` and no ``OFFSET``. ``totalCount`` exists when a count policy other than
``"none"`` is chosen, and is computed only when a query selects it.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import graphene
from django.db import models
from graphene.relay import Connection
from graphene.types.field import Field
from graphql import GraphQLError

from nexus_api.conf import get_settings
from nexus_api.keyset import (
    CursorEncoder,
    CursorError,
    Keyset,
    count_rows,
    normalize_ordering,
    queryset_ordering,
    validate_policy,
)

__all__ = ["INVALID_ARGUMENT", "INVALID_CURSOR", "KeysetConnectionField"]

#: ``extensions.code`` of the GraphQL error for a cursor that cannot be used.
INVALID_CURSOR = "INVALID_CURSOR"
#: ``extensions.code`` of the GraphQL error for bad ``first``/``last``/cursor combinations.
INVALID_ARGUMENT = "BAD_USER_INPUT"

_PAGING_ARGS = ("first", "last", "after", "before")
_connections: dict[tuple[type, bool], type[Connection]] = {}


def _connection_type(node: type[Any], counted: bool) -> type[Connection]:
    """One connection type per node (and per presence of ``totalCount``): GraphQL type names
    are global, so two fields on the same node must share it."""
    existing = _connections.get((node, counted))
    if existing is not None:
        return existing
    base = node._meta.name
    name = f"{base}CountedKeysetConnection" if counted else f"{base}KeysetConnection"
    attrs: dict[str, Any] = {"Meta": type("Meta", (), {"node": node, "name": name}), "Edge": _EdgeFields}
    if counted:
        attrs["total_count"] = graphene.Int(
            description="Number of items in the whole list (computed only when selected)."
        )
        attrs["resolve_total_count"] = staticmethod(lambda root, info: root.nexus_count())
    connection: type[Connection] = type(name, (Connection,), attrs)
    _connections[(node, counted)] = connection
    return connection


class _EdgeCursors:
    """The cursors of a page's edges, signed together the first time one is selected.

    A list field's selection is the same for every item, so when one edge's ``cursor`` is
    selected all of them are; a query that selects none (``pageInfo`` only) signs none.
    """

    __slots__ = ("_encode", "_position", "_rows", "_tokens")

    def __init__(self, rows: list[Any], position: Callable[[Any], Any], encode: CursorEncoder) -> None:
        self._rows = rows
        self._position = position
        self._encode = encode
        self._tokens: list[str] | None = None

    def __getitem__(self, index: int) -> str:
        tokens = self._tokens
        if tokens is None:
            tokens = self._tokens = self._encode.many(map(self._position, self._rows))
        return tokens[index]


class _Edge:
    """An edge whose cursor is signed only if the query asks for it."""

    __slots__ = ("_cursors", "_index", "node")

    def __init__(self, node: Any, cursors: _EdgeCursors, index: int) -> None:
        self.node = node
        self._cursors = cursors
        self._index = index

    @property
    def cursor(self) -> str:
        return self._cursors[self._index]


def _resolve_edge_cursor(edge: _Edge, info: Any) -> str:
    return edge._cursors[edge._index]


def _resolve_edge_node(edge: _Edge, info: Any) -> Any:
    return edge.node


class _EdgeFields:
    """Resolvers of the connection's edge type, read straight from an ``_Edge``.

    graphene's default resolver reaches an attribute through two more calls (and a
    ``dict`` check) per field; a page resolves ``cursor`` and ``node`` on every edge.
    """

    resolve_cursor = staticmethod(_resolve_edge_cursor)
    resolve_node = staticmethod(_resolve_edge_node)


class _PageInfo:
    """Relay ``pageInfo`` whose cursors are signed only if the query asks for them
    (graphene resolves the ``PageInfo`` type's fields from any object's attributes)."""

    __slots__ = ("_encode", "_end", "_start", "has_next_page", "has_previous_page")

    def __init__(
        self,
        *,
        has_next_page: bool,
        has_previous_page: bool,
        start: tuple[Any, ...] | None = None,
        end: tuple[Any, ...] | None = None,
        encode: CursorEncoder | None = None,
    ) -> None:
        self.has_next_page = has_next_page
        self.has_previous_page = has_previous_page
        self._start, self._end, self._encode = start, end, encode

    @property
    def start_cursor(self) -> str | None:
        return None if self._start is None or self._encode is None else self._encode(self._start)

    @property
    def end_cursor(self) -> str | None:
        return None if self._end is None or self._encode is None else self._encode(self._end)


def _argument_error(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": INVALID_ARGUMENT})


class KeysetConnectionField(Field):  # type: ignore[misc]
    """A relay connection over a ``DjangoObjectType`` paged by keyset cursors.

    ``ordering`` (field names, ``-`` for descending) defaults to the queryset's explicit
    ``order_by()``, else the model's ``Meta.ordering``, else the primary key; the primary key
    is always the final tie-breaker. ``max_first`` defaults to
    ``NEXUS_API["GRAPHQL_MAX_FIRST"]``; ``count_policy`` to ``NEXUS_API["COUNT_POLICY"]``
    (any policy but ``"none"`` adds ``totalCount``). A resolver returning ``None`` (or no
    resolver) pages the model's default manager, or the manager named by ``on``. Other
    keyword arguments go to graphene's ``Field`` (``description``, ``deprecation_reason``,
    ``required``, extra arguments, which then bind the cursors).
    """

    def __init__(
        self,
        type_: Any,
        *args: Any,
        ordering: str | Sequence[str] | None = None,
        count_policy: str | None = None,
        max_first: int | None = None,
        on: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("before", graphene.String())
        kwargs.setdefault("after", graphene.String())
        kwargs.setdefault("first", graphene.Int())
        kwargs.setdefault("last", graphene.Int())
        self.ordering = normalize_ordering(ordering)
        self.count_policy = count_policy
        self.max_first = max_first
        self.on = on
        super().__init__(type_, *args, **kwargs)

    @property
    def node_type(self) -> Any:
        node = super().type
        if isinstance(node, graphene.NonNull):
            node = node.of_type
        meta = getattr(node, "_meta", None)
        if getattr(meta, "model", None) is None:
            raise TypeError(
                f"KeysetConnectionField needs a graphene-django DjangoObjectType, not {node!r}: "
                f"pass the node type of the model to page as the first argument."
            )
        return node

    @property
    def type(self) -> Any:
        counted = validate_policy(self.count_policy) != "none"
        connection = _connection_type(self.node_type, counted)
        return graphene.NonNull(connection) if isinstance(super().type, graphene.NonNull) else connection

    @property
    def model(self) -> builtins.type[models.Model]:
        model: builtins.type[models.Model] = self.node_type._meta.model
        return model

    def wrap_resolve(self, parent_resolver: Callable[..., Any]) -> Callable[..., Any]:
        resolver = super().wrap_resolve(parent_resolver)

        def resolve(root: Any, info: Any, **args: Any) -> Any:
            return self.resolve_connection(resolver, root, info, **args)

        return resolve

    def get_queryset(self, resolver: Callable[..., Any], root: Any, info: Any, args: dict[str, Any]) -> Any:
        resolved = resolver(root, info, **args)
        if resolved is None:
            resolved = getattr(self.model, self.on) if self.on else self.model._default_manager
        if isinstance(resolved, models.Manager):
            resolved = resolved.get_queryset()
        if not isinstance(resolved, models.QuerySet):
            raise TypeError(
                f"The resolver of {info.field_name!r} must return a QuerySet of {self.model._meta.label} "
                f"(or None for all rows), not {type(resolved).__name__}."
            )
        return self.node_type.get_queryset(resolved, info)

    def get_ordering(self, queryset: models.QuerySet[Any]) -> tuple[str, ...]:
        return self.ordering or queryset_ordering(queryset)

    def page_size(self, first: int | None, last: int | None) -> int:
        settings = get_settings()
        limit = self.max_first or settings.GRAPHQL_MAX_FIRST
        if first is not None and last is not None:
            raise _argument_error("Pass either `first` or `last`, not both.")
        for name, value in (("first", first), ("last", last)):
            if value is None:
                continue
            if value < 0:
                raise _argument_error(f"`{name}` must not be negative (got {value}).")
            if value > limit:
                raise _argument_error(
                    f"`{name}` is {value}, above the maximum of {limit} items per page; "
                    f"request at most {limit} and follow `pageInfo.endCursor`."
                )
            return value
        return min(settings.PAGE_SIZE, limit)

    def resolve_connection(self, resolver: Callable[..., Any], root: Any, info: Any, **args: Any) -> Any:
        first, last = args.get("first"), args.get("last")
        after, before = args.get("after"), args.get("before")
        size = self.page_size(first, last)
        if after and before:
            raise _argument_error("Pass either `after` or `before`, not both.")
        if (first is not None and before) or (last is not None and after):
            raise _argument_error("Use `first` with `after` (forwards) or `last` with `before` (backwards).")
        queryset = self.get_queryset(resolver, root, info, args)
        extra = {name: value for name, value in args.items() if name not in _PAGING_ARGS}
        keyset = Keyset.for_queryset(
            queryset,
            self.get_ordering(queryset),
            binding=[info.parent_type.name, info.field_name, extra],
        )
        backwards = before is not None or last is not None
        cursor = None
        token = before or after
        if token:
            try:
                decoded = keyset.decode(token)
            except CursorError as exc:
                raise GraphQLError(
                    f"Invalid cursor: {exc}. Query without `after`/`before` to start again.",
                    extensions={"code": INVALID_CURSOR},
                ) from exc
            # Relay's direction comes from the argument, not from the cursor: an endCursor
            # (issued pointing forward) is a valid ``before``.
            cursor = dataclasses.replace(decoded, reverse=backwards)
        field_type = self.type
        connection_type = field_type.of_type if isinstance(field_type, graphene.NonNull) else field_type
        if size == 0:
            edges: list[_Edge] = []
            page_info = _PageInfo(has_next_page=False, has_previous_page=False)
        else:
            page = keyset.page(queryset, size=size, cursor=cursor, reverse=backwards)
            encode = keyset.encoder()
            cursors = _EdgeCursors(page.rows, keyset.position, encode)
            edges = [_Edge(row, cursors, index) for index, row in enumerate(page.rows)]
            page_info = _PageInfo(
                has_next_page=page.has_next,
                has_previous_page=page.has_previous,
                start=page.start if page.rows else None,
                end=page.end if page.rows else None,
                encode=encode,
            )
        connection = connection_type(edges=edges, page_info=page_info)
        policy = self.count_policy
        connection.nexus_count = lambda: count_rows(queryset, policy)
        return connection
