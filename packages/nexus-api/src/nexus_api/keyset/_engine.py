"""The keyset paginator shared by the DRF paginator and the GraphQL connection field."""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.expressions import OrderBy
from django.db.models.sql.where import AND

from nexus_api.conf import get_settings
from nexus_api.keyset._cursor import Cursor, CursorEncoder, CursorError, binding_digest, decode_cursor
from nexus_api.keyset._ordering import Key, normalize_ordering, resolve_ordering
from nexus_api.keyset._where import after_position

__all__ = ["Keyset", "Page"]

T = TypeVar("T")
_ALIAS = "_nexus_key_{}"


@dataclasses.dataclass(frozen=True)
class _Plan:
    """What an ordering needs on every request that depends only on (model, ordering):
    built once, so that a request neither resolves fields nor hashes keys."""

    keys: tuple[Key, ...]
    #: The keys as ordering terms (``-created_at``, ``id``): what cursors are bound to.
    terms: tuple[str, ...]
    #: ORDER BY expressions in list order and reversed (Django copies them when resolving).
    order_by: tuple[tuple[OrderBy, ...], tuple[OrderBy, ...]]
    #: Reads a model instance's position: one ``attrgetter`` for every key, because a
    #: connection reads the position of every edge it returns.
    read: Callable[[Any], tuple[Any, ...]]
    #: Annotations a page query adds for keys that are not columns of the model (joins).
    annotations: tuple[tuple[str, str], ...]


def _make_plan(keys: tuple[Key, ...]) -> _Plan:
    names = [key.attname if key.attname is not None else _ALIAS.format(i) for i, key in enumerate(keys)]
    getter = operator.attrgetter(*names)
    read: Callable[[Any], tuple[Any, ...]] = getter if len(names) > 1 else (lambda row: (getter(row),))
    return _Plan(
        keys=keys,
        terms=tuple(key.term for key in keys),
        order_by=(
            tuple(key.order_by(reverse=False) for key in keys),
            tuple(key.order_by(reverse=True) for key in keys),
        ),
        read=read,
        annotations=tuple(
            (_ALIAS.format(index), key.path) for index, key in enumerate(keys) if key.attname is None
        ),
    )


@functools.lru_cache(maxsize=1024)
def _cached_plan(model: type[models.Model], terms: tuple[str, ...]) -> _Plan:
    return _make_plan(resolve_ordering(model, terms))


def _plan(model: type[models.Model], ordering: Iterable[str], annotations: Mapping[str, Any] | None) -> _Plan:
    terms = normalize_ordering(tuple(ordering))
    if annotations and any(term.lstrip("-+") in annotations for term in terms):
        # Annotation output fields belong to one queryset: not cached.
        return _make_plan(resolve_ordering(model, terms, annotations=annotations))
    return _cached_plan(model, terms)


@dataclasses.dataclass(frozen=True)
class Page(Generic[T]):
    """One page of rows in list order, and whether rows exist before and after it.

    Both flags are exact at the moment of the query, also on the side a cursor came from
    (``has_previous`` after a forward step): see :meth:`Keyset.page` for how that is known
    without a COUNT.
    """

    rows: list[T]
    has_next: bool
    has_previous: bool
    #: Positions of the first and last row (or of the cursor when the page is empty).
    start: tuple[Any, ...] | None
    end: tuple[Any, ...] | None


class Keyset:
    """Keyset paging of one list: a queryset's model, an ordering and what cursors bind to.

    ``binding`` names everything that defines the list besides the ordering (filter
    parameters, endpoint); cursors issued here are accepted only by an equal ``Keyset``.
    """

    def __init__(
        self,
        model: type[models.Model],
        ordering: Iterable[str],
        *,
        binding: Any = None,
        annotations: Mapping[str, Any] | None = None,
    ) -> None:
        self.model = model
        self._plan = _plan(model, ordering, annotations)
        self.keys: tuple[Key, ...] = self._plan.keys
        self.ordering = self._plan.terms
        self.binding = binding_digest(model._meta.label_lower, self.ordering, binding)

    @classmethod
    def for_queryset(
        cls, queryset: models.QuerySet[Any], ordering: Iterable[str], *, binding: Any = None
    ) -> Keyset:
        return cls(queryset.model, ordering, binding=binding, annotations=queryset.query.annotations)

    # Cursors -----------------------------------------------------------------------------

    def encode(self, position: Sequence[Any], *, reverse: bool = False) -> str:
        return self.encoder()(position, reverse)

    def encoder(self) -> CursorEncoder:
        """A cursor signer for this list, for encoding many positions (one per edge)."""
        return CursorEncoder(binding=self.binding, salt=get_settings().CURSOR_SALT)

    def decode(self, token: str) -> Cursor:
        """The cursor in ``token``, its values converted by their fields (so a value the
        model can no longer hold, after a migration changed a column, is a ``CursorError``
        here rather than a database error later). Raises ``CursorError`` for any token this
        list did not issue."""
        cursor = decode_cursor(
            token, binding=self.binding, salt=get_settings().CURSOR_SALT, length=len(self.keys)
        )
        values: list[Any] = []
        for key, value in zip(self.keys, cursor.position, strict=True):
            if value is None:
                if not key.nullable:
                    raise CursorError(f"the cursor holds NULL for {key.path!r}, which cannot be NULL")
                values.append(None)
                continue
            if key.field is not None:
                try:
                    value = key.field.to_python(value)
                except ValidationError as exc:
                    raise CursorError(f"the cursor holds an invalid value for {key.path!r}") from exc
            values.append(value)
        return Cursor(tuple(values), cursor.reverse)

    # Rows --------------------------------------------------------------------------------

    def position(self, row: Any) -> tuple[Any, ...]:
        """The sort-key values of a row fetched through :meth:`page` (instance or dict)."""
        if isinstance(row, Mapping):
            return tuple(
                row[key.path] if key.path in row else row[_ALIAS.format(index)]
                for index, key in enumerate(self.keys)
            )
        return self._plan.read(row)

    def order(self, queryset: models.QuerySet[Any], *, reverse: bool = False) -> models.QuerySet[Any]:
        return queryset.order_by(*self._plan.order_by[1 if reverse else 0])

    def page_queryset(
        self,
        queryset: models.QuerySet[Any],
        *,
        size: int,
        cursor: Cursor | None = None,
        reverse: bool | None = None,
    ) -> models.QuerySet[Any]:
        """The query behind :meth:`page`, e.g. to ``explain()`` it.

        ``size + 1`` rows, the last telling whether more follow; after a cursor also the row
        at the cursor itself if it still exists (``size + 2``), which tells whether anything
        precedes the page.
        """
        if queryset.query.is_sliced:
            raise TypeError("Keyset pagination needs an unsliced queryset; remove the [start:stop] slice.")
        if size < 1:
            raise ValueError(f"Page size must be at least 1, not {size}; cap or default it before paging.")
        backwards = cursor.reverse if cursor is not None else bool(reverse)
        if self._plan.annotations:
            present = queryset.query.annotations
            wanted = {alias: models.F(path) for alias, path in self._plan.annotations if path not in present}
            if wanted:
                queryset = queryset.annotate(**wanted)
        condition = None
        limit = size + 1
        if cursor is not None:
            condition = after_position(self.keys, cursor.position, reverse=backwards, inclusive=True)
            assert condition is not None  # an inclusive condition always admits the position itself
            limit = size + 2
        order_by = self._plan.order_by[1 if backwards else 0]
        if queryset.query.combinator:
            # union()/intersection()/difference(): Django's own methods say what is supported.
            if condition is not None:
                queryset = queryset.filter(condition)
            return queryset.order_by(*order_by)[:limit]
        # What ``filter(condition).order_by(...)[:limit]`` does, on one clone instead of three
        # and without the ``= true`` lookup that ``filter()`` wraps around an expression (the
        # condition's SQL is already a predicate). Joins for related keys are set up when the
        # condition resolves, exactly as in ``filter()``.
        clone = queryset.all()
        query = clone.query
        query.clear_ordering(force=True, clear_default=False)
        query.add_ordering(*order_by)
        if condition is not None:
            query.where.add(condition.resolve_expression(query, allow_joins=True, reuse=None), AND)
        query.set_limits(high=limit)
        return clone

    def page(
        self,
        queryset: models.QuerySet[Any],
        *,
        size: int,
        cursor: Cursor | None = None,
        reverse: bool | None = None,
    ) -> Page[Any]:
        """Fetch ``size`` rows after the cursor (before it when it points backwards).

        Without a cursor: the first rows, or the last ones when ``reverse`` (relay's
        ``last`` without ``before``). Never a COUNT: one query, whose extra row tells
        whether more rows follow and which, after a cursor, starts at the cursor's own row
        so that its presence tells whether rows precede the page. Only when that row has
        since been deleted (or moved) does a second query, an indexed ``EXISTS`` probe of
        one row, answer that.
        """
        backwards = cursor.reverse if cursor is not None else bool(reverse)
        rows = list(self.page_queryset(queryset, size=size, cursor=cursor, reverse=reverse))
        behind = False
        if cursor is not None:
            # The inclusive condition admits the row at the cursor and nothing else before
            # the page; it comes first. Positions end with the primary key, so equal
            # positions mean the same row.
            if rows and self.position(rows[0]) == cursor.position:
                del rows[0]
                behind = True
            else:
                behind = self._exists_behind(queryset, cursor.position, backwards)
        more = len(rows) > size
        del rows[size:]
        if backwards:
            rows.reverse()
        start: tuple[Any, ...] | None
        end: tuple[Any, ...] | None
        if rows:
            start, end = self.position(rows[0]), self.position(rows[-1])
        else:
            start = end = cursor.position if cursor is not None else None
        if backwards:
            return Page(rows, has_next=behind, has_previous=more, start=start, end=end)
        return Page(rows, has_next=more, has_previous=behind, start=start, end=end)

    def _exists_behind(
        self, queryset: models.QuerySet[Any], position: tuple[Any, ...], backwards: bool
    ) -> bool:
        """Whether any row lies on the far side of ``position`` from a page read in this
        direction: one indexed probe (``LIMIT 1``), never a count."""
        condition = after_position(self.keys, position, reverse=not backwards)
        return condition is not None and queryset.filter(condition).exists()

    def next_cursor(self, page: Page[Any]) -> str | None:
        return self.encode(page.end) if page.has_next and page.end is not None else None

    def previous_cursor(self, page: Page[Any]) -> str | None:
        return self.encode(page.start, reverse=True) if page.has_previous and page.start is not None else None
