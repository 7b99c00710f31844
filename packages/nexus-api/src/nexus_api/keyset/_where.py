"""The WHERE clause that selects the rows after (or before) a cursor position.

Written for index use. When every key has the same direction and none can be NULL, one
row-value comparison ``(a, b, id) > (x, y, z)``: PostgreSQL and SQLite turn it into a
single index range. Otherwise the expanded form
``a >= x AND (a > x OR (a = x AND (b < y OR (b = y AND id > z))))`` whose redundant
leading bound ``a >= x`` is what gives the planner an index condition; ``IS NULL`` /
``IS NOT NULL`` branches appear only for keys that can be NULL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BooleanField, F, Q, Value
from django.db.models.expressions import Expression
from django.db.models.sql.compiler import SQLCompiler

from nexus_api.keyset._ordering import Key

__all__ = ["RowCompare", "after_position"]


class RowCompare(Expression):
    """``(lhs1, lhs2, ...) > (rhs1, rhs2, ...)`` (or ``<``) as a boolean expression."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, lhs: Sequence[Any], rhs: Sequence[Any], *, descending: bool) -> None:
        super().__init__()
        self.lhs = list(lhs)
        self.rhs = list(rhs)
        self.descending = descending

    def get_source_expressions(self) -> list[Any]:
        return [*self.lhs, *self.rhs]

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        middle = len(exprs) // 2
        self.lhs, self.rhs = list(exprs[:middle]), list(exprs[middle:])

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> tuple[str, Any]:
        params: list[Any] = []
        sides = []
        for side in (self.lhs, self.rhs):
            parts = []
            for expression in side:
                sql, part_params = compiler.compile(expression)
                parts.append(sql)
                params.extend(part_params)
            sides.append(f"({', '.join(parts)})")
        operator = "<" if self.descending else ">"
        return f"{sides[0]} {operator} {sides[1]}", tuple(params)


def _after(key: Key, value: Any, descending: bool) -> Q | None:
    """Rows strictly after ``value`` in this key alone; ``None`` when there are none."""
    if value is None:
        # NULL is the largest value: nothing follows it ascending, every value follows it descending.
        return Q(**{f"{key.path}__isnull": False}) if descending else None
    if descending:
        return Q(**{f"{key.path}__lt": value})
    condition = Q(**{f"{key.path}__gt": value})
    if key.nullable:
        condition |= Q(**{f"{key.path}__isnull": True})
    return condition


def _at_or_after(key: Key, value: Any, descending: bool) -> Q | None:
    """The redundant bound on the leading key; ``None`` when it would not narrow anything."""
    if value is None:
        return None if descending else Q(**{f"{key.path}__isnull": True})
    if descending:
        return Q(**{f"{key.path}__lte": value})
    condition = Q(**{f"{key.path}__gte": value})
    if key.nullable:
        condition |= Q(**{f"{key.path}__isnull": True})
    return condition


def _equal(key: Key, value: Any) -> Q:
    return Q(**{f"{key.path}__isnull": True}) if value is None else Q(**{key.path: value})


def after_position(keys: Sequence[Key], position: Sequence[Any], *, reverse: bool) -> Q | RowCompare | None:
    """The condition for rows after ``position`` in the ordering (before it when ``reverse``).

    ``None`` means no row can follow the position (e.g. after NULL in an ascending last key).
    """
    directions = [key.descending != reverse for key in keys]
    if len(set(directions)) == 1 and not any(key.nullable for key in keys):
        if len(keys) == 1:
            only = keys[0]
            return Q(**{f"{only.path}__{'lt' if directions[0] else 'gt'}": position[0]})
        return RowCompare(
            [F(key.path) for key in keys],
            [Value(value, output_field=key.field) for key, value in zip(keys, position, strict=True)],
            descending=directions[0],
        )
    branches: list[Q] = []
    prefix = Q()
    for key, value, descending in zip(keys, position, directions, strict=True):
        branch = _after(key, value, descending)
        if branch is not None:
            branches.append(prefix & branch)
        prefix &= _equal(key, value)
    if not branches:
        return None
    condition = branches[0]
    for branch in branches[1:]:
        condition |= branch
    bound = _at_or_after(keys[0], position[0], directions[0])
    return condition if bound is None else bound & condition
