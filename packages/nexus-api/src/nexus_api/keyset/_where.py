"""The WHERE clause that selects the rows after (or before) a cursor position.

Written for index use. When every key has the same direction and none can be NULL, one
row-value comparison ``(a, b, id) > (x, y, z)``: PostgreSQL and SQLite turn it into a
single index range. Otherwise the expanded form with a redundant bound on the leading key,
``a <= x AND (a < x OR (b > y OR (b = y AND id > z)))``: the bound is what gives the
planner an index condition, and under it ``a = x`` is implied wherever ``a < x`` fails, so
the leading equality is left out (one parameter and one comparison fewer). The OR part is
wrapped in a ``CASE`` on PostgreSQL so that its planner does not search index paths for it
(see ``_template``). ``IS NULL`` / ``IS NOT NULL`` branches appear only for keys that can be
NULL. The inclusive variant also admits the row at the position itself (``>=`` on the last
key), which is how a page learns whether anything precedes it.

The condition is built on every request but its *shape* depends only on the columns, the
directions, which keys are nullable and which cursor values are NULL. So the SQL text is
assembled once per shape (cached) and each request only compiles its columns and values.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BooleanField, Value
from django.db.models.expressions import Expression
from django.db.models.sql.compiler import SQLCompiler

from nexus_api.keyset._ordering import Key, KeyColumn, fast_copy

__all__ = ["SeekCondition", "after_position"]

#: A piece of SQL and, in order, the indexes of the sources (columns, then values) whose
#: parameters its placeholders consume.
_Piece = tuple[str, tuple[int, ...]]


class SeekCondition(Expression):
    """Rows after ``position`` in the keys' order (each key's effective direction in
    ``descending``), and the row at ``position`` itself when ``inclusive``; NULL sorts as
    larger than every value."""

    conditional = True
    output_field = BooleanField()

    def __init__(
        self,
        keys: Sequence[Key],
        position: Sequence[Any],
        descending: Sequence[bool],
        *,
        inclusive: bool = False,
    ) -> None:
        super().__init__()
        self.keys = tuple(keys)
        self.position = tuple(position)
        self.descending = tuple(descending)
        self.inclusive = inclusive
        # Only the columns are source expressions: they need resolving against the query
        # (joins, aliases). The values are compiled directly in as_sql().
        self.columns: list[Any] = [KeyColumn(key) for key in keys]

    def copy(self) -> Any:
        # Resolving the condition copies it (once per page query); see fast_copy.
        return fast_copy(self)

    def get_source_expressions(self) -> list[Any]:
        return self.columns

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        self.columns = list(exprs)

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> tuple[str, Any]:
        sources: list[Sequence[Any]] = []
        column_sql: list[str] = []
        for column in self.columns:
            sql, params = compiler.compile(column)
            column_sql.append(sql)
            sources.append(params)
        value_sql: list[str | None] = []
        for key, value in zip(self.keys, self.position, strict=True):
            if value is None:
                value_sql.append(None)
                sources.append(())
                continue
            # Compiled through Value so that the field prepares it for this database exactly
            # as a filter() would (time zones, Decimal casts on SQLite, custom placeholders).
            sql, params = compiler.compile(Value(value, output_field=key.field))
            value_sql.append(sql)
            sources.append(params)
        template, refs = _template(
            tuple(column_sql),
            tuple(value_sql),
            self.descending,
            tuple(key.nullable for key in self.keys),
            self.inclusive,
            connection.vendor == "postgresql",
        )
        return template, [param for ref in refs for param in sources[ref]]


def _cat(*parts: _Piece | str) -> _Piece:
    sql: list[str] = []
    refs: list[int] = []
    for part in parts:
        if isinstance(part, str):
            sql.append(part)
        else:
            sql.append(part[0])
            refs.extend(part[1])
    return "".join(sql), tuple(refs)


def _commas(parts: Sequence[_Piece]) -> _Piece:
    joined: list[_Piece | str] = []
    for index, part in enumerate(parts):
        if index:
            joined.append(", ")
        joined.append(part)
    return _cat(*joined)


@functools.lru_cache(maxsize=1024)
def _template(
    column_sql: tuple[str, ...],
    value_sql: tuple[str | None, ...],
    descending: tuple[bool, ...],
    nullable: tuple[bool, ...],
    inclusive: bool,
    opaque: bool = False,
) -> _Piece:
    """The condition's SQL for one shape, and which source feeds each parameter."""
    count = len(column_sql)
    columns: list[_Piece] = [(sql, (index,)) for index, sql in enumerate(column_sql)]
    values: list[_Piece | None] = [
        None if sql is None else (sql, (count + index,)) for index, sql in enumerate(value_sql)
    ]
    if len(set(descending)) == 1 and not any(nullable) and all(value is not None for value in values):
        operator = (" <" if descending[0] else " >") + ("= " if inclusive else " ")
        if count == 1:
            return _cat(columns[0], operator, values[0])  # type: ignore[arg-type]
        return _cat("(", _commas(columns), ")", operator, "(", _commas(values), ")")  # type: ignore[arg-type]
    bound = _at_or_after(columns[0], values[0], nullable[0], descending[0]) if count > 1 else None
    # Built from the last key outwards: after(k) OR (k = v AND <rest>); when inclusive the
    # last key also admits its own value, which admits exactly the row at the position.
    condition: _Piece | None = None
    for index in reversed(range(count)):
        column, value = columns[index], values[index]
        if condition is None and inclusive:
            condition = _at_or_after(column, value, nullable[index], descending[index]) or ("1 = 1", ())
            continue
        after = _after(column, value, nullable[index], descending[index])
        if condition is not None:
            # Under the leading bound, "not after the leading value" already means "equal to it".
            tail = (
                condition
                if index == 0 and bound is not None
                else _cat("(", _equal(column, value), " AND ", condition, ")")
            )
            condition = tail if after is None else _cat("(", after, " OR ", tail, ")")
        else:
            condition = after
    if condition is None:
        return "1 = 0", ()
    if bound is None:
        return condition
    if opaque:
        # The bound is the index condition; the OR form under it can only be a filter on the
        # ordered scan. Left bare, PostgreSQL's planner also costs bitmap-OR paths for it (an
        # index per branch) and throws them away: on the benchmark machine 12 µs of planning
        # per page with Django's client-side parameter binding, 0.1 ms with server-side
        # binding (more than the scan itself). A CASE is opaque to that search and
        # keeps the truth value (NULL counts as not after, as in a bare WHERE). (Not
        # ``THEN 1 ELSE 0 END = 1``: the planner folds that back into the bare OR.)
        return _cat(bound, " AND CASE WHEN ", condition, " THEN TRUE ELSE FALSE END")
    return _cat(bound, " AND ", condition)


def _after(column: _Piece, value: _Piece | None, nullable: bool, descending: bool) -> _Piece | None:
    """Rows strictly after ``value`` in this key alone; ``None`` when there are none."""
    if value is None:
        # NULL is the largest value: nothing follows it ascending, every value follows it descending.
        return _cat(column, " IS NOT NULL") if descending else None
    if descending:
        return _cat(column, " < ", value)
    if nullable:
        return _cat("(", column, " > ", value, " OR ", column, " IS NULL)")
    return _cat(column, " > ", value)


def _at_or_after(column: _Piece, value: _Piece | None, nullable: bool, descending: bool) -> _Piece | None:
    """Rows at or after ``value`` in this key alone (the redundant bound on the leading key);
    ``None`` when that is every row."""
    if value is None:
        return None if descending else _cat(column, " IS NULL")
    if descending:
        return _cat(column, " <= ", value)
    if nullable:
        return _cat("(", column, " >= ", value, " OR ", column, " IS NULL)")
    return _cat(column, " >= ", value)


def _equal(column: _Piece, value: _Piece | None) -> _Piece:
    return _cat(column, " IS NULL") if value is None else _cat(column, " = ", value)


def after_position(
    keys: Sequence[Key], position: Sequence[Any], *, reverse: bool, inclusive: bool = False
) -> SeekCondition | None:
    """The condition for rows after ``position`` in the ordering (before it when ``reverse``),
    plus the row at ``position`` when ``inclusive``.

    ``None`` means no row can follow the position (after NULL in every ascending key).
    """
    descending = [key.descending != reverse for key in keys]
    if not inclusive and all(
        value is None and not desc for value, desc in zip(position, descending, strict=True)
    ):
        return None
    return SeekCondition(keys, position, descending, inclusive=inclusive)
