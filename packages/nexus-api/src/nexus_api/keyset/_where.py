"""The WHERE clause that selects the rows after (or before) a cursor position.

Written for index use. When every key has the same direction and none can be NULL, one
row-value comparison ``(a, b, id) > (x, y, z)``: PostgreSQL and SQLite turn it into a
single index range. Otherwise the expanded form
``a <= x AND (a < x OR (a = x AND (b > y OR (b = y AND id > z))))`` whose redundant
leading bound ``a <= x`` is what gives the planner an index condition; ``IS NULL`` /
``IS NOT NULL`` branches appear only for keys that can be NULL.

It is one expression compiled straight to SQL rather than a tree of ``Q`` lookups: the
condition is built on every request, and this halves its cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BooleanField, F, Value
from django.db.models.expressions import Expression
from django.db.models.sql.compiler import SQLCompiler

from nexus_api.keyset._ordering import Key

__all__ = ["SeekCondition", "after_position"]

_Sql = tuple[str, list[Any]]


class SeekCondition(Expression):
    """Rows strictly after ``position`` in the keys' order (each key's effective direction
    in ``descending``); NULL sorts as larger than every value."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, keys: Sequence[Key], position: Sequence[Any], descending: Sequence[bool]) -> None:
        super().__init__()
        self.keys = tuple(keys)
        self.position = tuple(position)
        self.descending = tuple(descending)
        self.columns: list[Any] = [F(key.path) for key in keys]
        self.values: list[Any] = [
            Value(value, output_field=key.field)
            for key, value in zip(keys, position, strict=True)
            if value is not None
        ]

    def get_source_expressions(self) -> list[Any]:
        return [*self.columns, *self.values]

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        self.columns, self.values = list(exprs[: len(self.keys)]), list(exprs[len(self.keys) :])

    @property
    def row_value(self) -> bool:
        return len(set(self.descending)) == 1 and not any(key.nullable for key in self.keys)

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> tuple[str, Any]:
        columns = [_compile(compiler, column) for column in self.columns]
        compiled = iter([_compile(compiler, value) for value in self.values])
        values: list[_Sql | None] = [None if value is None else next(compiled) for value in self.position]
        if self.row_value:
            operator = "<" if self.descending[0] else ">"
            if len(columns) == 1:
                return _join([columns[0], (f" {operator} ", []), values[0]])  # type: ignore[list-item]
            lhs = _join([("(", []), *_commas(columns), (")", [])])
            rhs = _join([("(", []), *_commas(values), (")", [])])  # type: ignore[arg-type]
            return _join([lhs, (f" {operator} ", []), rhs])
        # Built from the last key outwards: after(k) OR (k = v AND <rest>).
        condition: _Sql | None = None
        for index in reversed(range(len(self.keys))):
            column, value = columns[index], values[index]
            nullable, descending = self.keys[index].nullable, self.descending[index]
            after = _after(column, value, nullable, descending)
            if condition is not None:
                tail = _join([("(", []), _equal(column, value), (" AND ", []), condition, (")", [])])
                condition = (
                    tail if after is None else _join([("(", []), after, (" OR ", []), tail, (")", [])])
                )
            else:
                condition = after
        if condition is None:
            return "1 = 0", []
        bound = _at_or_after(columns[0], values[0], self.keys[0].nullable, self.descending[0])
        if bound is None:
            return condition
        return _join([bound, (" AND ", []), condition])


def _compile(compiler: SQLCompiler, expression: Any) -> _Sql:
    sql, params = compiler.compile(expression)
    return sql, list(params)


def _join(parts: Sequence[_Sql]) -> _Sql:
    return "".join(sql for sql, _ in parts), [param for _, params in parts for param in params]


def _commas(parts: Sequence[_Sql]) -> list[_Sql]:
    out: list[_Sql] = []
    for index, part in enumerate(parts):
        if index:
            out.append((", ", []))
        out.append(part)
    return out


def _after(column: _Sql, value: _Sql | None, nullable: bool, descending: bool) -> _Sql | None:
    """Rows strictly after ``value`` in this key alone; ``None`` when there are none."""
    if value is None:
        # NULL is the largest value: nothing follows it ascending, every value follows it descending.
        return _join([column, (" IS NOT NULL", [])]) if descending else None
    if descending:
        return _join([column, (" < ", []), value])
    if nullable:
        return _join([("(", []), column, (" > ", []), value, (" OR ", []), column, (" IS NULL)", [])])
    return _join([column, (" > ", []), value])


def _at_or_after(column: _Sql, value: _Sql | None, nullable: bool, descending: bool) -> _Sql | None:
    """The redundant bound on the leading key; ``None`` when it would not narrow anything."""
    if value is None:
        return None if descending else _join([column, (" IS NULL", [])])
    if descending:
        return _join([column, (" <= ", []), value])
    if nullable:
        return _join([("(", []), column, (" >= ", []), value, (" OR ", []), column, (" IS NULL)", [])])
    return _join([column, (" >= ", []), value])


def _equal(column: _Sql, value: _Sql | None) -> _Sql:
    return _join([column, (" IS NULL", [])]) if value is None else _join([column, (" = ", []), value])


def after_position(keys: Sequence[Key], position: Sequence[Any], *, reverse: bool) -> SeekCondition | None:
    """The condition for rows after ``position`` in the ordering (before it when ``reverse``).

    ``None`` means no row can follow the position (after NULL in every ascending key).
    """
    descending = [key.descending != reverse for key in keys]
    if all(value is None and not desc for value, desc in zip(position, descending, strict=True)):
        return None
    return SeekCondition(keys, position, descending)
