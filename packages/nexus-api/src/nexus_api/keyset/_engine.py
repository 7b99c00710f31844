"""The keyset paginator shared by the DRF paginator and the GraphQL connection field."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from django.core.exceptions import ValidationError
from django.db import models

from nexus_api.conf import get_settings
from nexus_api.keyset._cursor import Cursor, CursorError, binding_digest, decode_cursor, encode_cursor
from nexus_api.keyset._ordering import Key, resolve_ordering
from nexus_api.keyset._where import after_position

__all__ = ["Keyset", "Page"]

T = TypeVar("T")
_ALIAS = "_nexus_key_{}"


@functools.lru_cache(maxsize=1024)
def _order_expressions(keys: tuple[Key, ...], reverse: bool) -> tuple[Any, ...]:
    # Built once per ordering: Django copies expressions when it resolves them.
    return tuple(key.order_by(reverse=reverse) for key in keys)


@dataclasses.dataclass(frozen=True)
class Page(Generic[T]):
    """One page of rows in list order, with what is known about its neighbours.

    ``has_previous`` after a forward step (and ``has_next`` after a backward one) is ``True``
    whenever a cursor was followed: finding out for sure would cost another query, and the
    page the client came from existed a moment ago.
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
        self.keys: tuple[Key, ...] = resolve_ordering(model, ordering, annotations=annotations)
        self.ordering = tuple(key.term for key in self.keys)
        self.binding = binding_digest(model._meta.label_lower, self.ordering, binding)

    @classmethod
    def for_queryset(
        cls, queryset: models.QuerySet[Any], ordering: Iterable[str], *, binding: Any = None
    ) -> Keyset:
        return cls(queryset.model, ordering, binding=binding, annotations=queryset.query.annotations)

    # Cursors -----------------------------------------------------------------------------

    def encode(self, position: Sequence[Any], *, reverse: bool = False) -> str:
        return encode_cursor(
            Cursor(tuple(position), reverse), binding=self.binding, salt=get_settings().CURSOR_SALT
        )

    def decode(self, token: str) -> Cursor:
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
        values = []
        for index, key in enumerate(self.keys):
            if isinstance(row, Mapping):
                values.append(row[key.path] if key.path in row else row[_ALIAS.format(index)])
            elif key.attname is not None:
                values.append(getattr(row, key.attname))
            else:
                values.append(getattr(row, _ALIAS.format(index)))
        return tuple(values)

    def order(self, queryset: models.QuerySet[Any], *, reverse: bool = False) -> models.QuerySet[Any]:
        return queryset.order_by(*_order_expressions(self.keys, reverse))

    def page_queryset(
        self,
        queryset: models.QuerySet[Any],
        *,
        size: int,
        cursor: Cursor | None = None,
        reverse: bool | None = None,
    ) -> models.QuerySet[Any]:
        """The one query behind :meth:`page` (``size + 1`` rows), e.g. to ``explain()`` it."""
        if queryset.query.is_sliced:
            raise TypeError("Keyset pagination needs an unsliced queryset; remove the [start:stop] slice.")
        if size < 1:
            raise ValueError(f"page size must be at least 1, not {size}")
        backwards = cursor.reverse if cursor is not None else bool(reverse)
        wanted = {
            _ALIAS.format(index): models.F(key.path)
            for index, key in enumerate(self.keys)
            if key.attname is None and key.path not in queryset.query.annotations
        }
        if wanted:
            queryset = queryset.annotate(**wanted)
        if cursor is not None:
            condition = after_position(self.keys, cursor.position, reverse=backwards)
            queryset = queryset.none() if condition is None else queryset.filter(condition)
        return self.order(queryset, reverse=backwards)[: size + 1]

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
        ``last`` without ``before``). One query of ``size + 1`` rows; never a COUNT.
        """
        backwards = cursor.reverse if cursor is not None else bool(reverse)
        rows = list(self.page_queryset(queryset, size=size, cursor=cursor, reverse=reverse))
        more = len(rows) > size
        del rows[size:]
        if backwards:
            rows.reverse()
        followed = cursor is not None
        start: tuple[Any, ...] | None
        end: tuple[Any, ...] | None
        if rows:
            start, end = self.position(rows[0]), self.position(rows[-1])
        else:
            start = end = cursor.position if cursor is not None else None
        if backwards:
            return Page(rows, has_next=followed, has_previous=more, start=start, end=end)
        return Page(rows, has_next=more, has_previous=followed, start=start, end=end)

    def next_cursor(self, page: Page[Any]) -> str | None:
        return self.encode(page.end) if page.has_next and page.end is not None else None

    def previous_cursor(self, page: Page[Any]) -> str | None:
        return self.encode(page.start, reverse=True) if page.has_previous and page.start is not None else None
