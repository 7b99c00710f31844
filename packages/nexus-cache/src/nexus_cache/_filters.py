"""Django's filter() errors at the call, for filters ``CachedQuerySet`` applies lazily.

A cached queryset keeps its last ``filter()``/``exclude()`` pending, because adding it to
the Query (``add_q``) is the most expensive step of building the queryset and a hit keyed
by the recipe never needs it. Django, though, raises at the ``filter()`` call for a field
name it cannot resolve (``FieldError``), an unsupported lookup, or a value the field
cannot take (``ValueError``, ``ValidationError``), and code relies on that
(``try: qs = M.objects.filter(pk=raw) except ValueError``).

So every pending filter is checked when it is made, in two parts:

* the *shape* of the call - the lookup paths, ``Q`` connectors and negations, and for
  each value its type (and an ``F``'s name) - is validated once, by running Django's own
  ``add_q`` on a throwaway Query; a shape that raised is never remembered;
* each value is then checked on every call by building the lookup Django would build
  (``Exact(col, value)``...): that is where Django prepares values and raises for bad
  ones, at a fraction of the cost of ``add_q``.

A shape whose lookups cannot be rebuilt that way (subqueries, annotations, expressions
among the values) is not applied lazily at all: the queryset filters eagerly, as Django.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from django.db import models
from django.db.models import F, Q
from django.db.models.lookups import Lookup
from django.db.models.sql.query import Query

#: (lookup class, lhs) that rebuilds a leaf's lookup; None when the value needs no check.
_Check = tuple[type[Lookup], Any] | None

_MAX_SHAPES = 4096
_shapes: dict[tuple[Any, ...], tuple[_Check, ...] | None] = {}
_lock = threading.Lock()
_UNSEEN: Any = object()


class _NoShape(Exception):
    """A filter argument this module does not model (an expression, a queryset...)."""


def _value_shape(value: Any) -> Any:
    if value is None:
        return None
    if type(value) is F:
        return ("F", getattr(value, "name", ""))
    if hasattr(value, "resolve_expression"):
        raise _NoShape
    if isinstance(value, list | tuple | set | frozenset):
        kinds = set()
        for item in value:
            if hasattr(item, "resolve_expression"):
                raise _NoShape
            kinds.add(type(item))
        return (type(value), frozenset(kinds))
    return type(value)


def _shape(node: Any, leaves: list[tuple[str, Any]]) -> Any:
    if isinstance(node, Q):
        return ("Q", node.connector, node.negated, tuple(_shape(c, leaves) for c in node.children))
    if isinstance(node, tuple) and len(node) == 2 and isinstance(node[0], str):
        leaves.append(node)
        return ("L", node[0], _value_shape(node[1]))
    raise _NoShape


def _learn(
    model: type[models.Model], negate: bool, q: Q, leaves: Iterable[tuple[str, Any]]
) -> tuple[_Check, ...] | None:
    """Validate a new shape with Django's own add_q (raising what filter() would raise),
    then find, per leaf, the lookup that prepares its value."""
    Query(model).add_q(~q if negate else q)
    checks: list[_Check] = []
    for path, value in leaves:
        if value is None or type(value) is F:
            checks.append(None)  # fully described by the shape
            continue
        probe = Query(model)
        probe.add_q(Q((path, value)))
        children = probe.where.children
        if len(children) != 1 or not isinstance(children[0], Lookup):
            return None  # Django builds something richer here: filter eagerly
        checks.append((type(children[0]), children[0].lhs))
    return tuple(checks)


def validate(model: type[models.Model], negate: bool, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Raise what ``filter(*args, **kwargs)`` would raise on ``model``; True when the filter
    may then be applied lazily, False when it must be applied now."""
    leaves: list[tuple[str, Any]] = []
    # Q(*args, **kwargs) orders its children like this.
    q = Q(*args, **kwargs)
    try:
        key = (model, negate, _shape(q, leaves))
    except _NoShape:
        return False
    checks = _shapes.get(key, _UNSEEN)
    if checks is _UNSEEN:
        checks = _learn(model, negate, q, leaves)
        with _lock:
            if len(_shapes) >= _MAX_SHAPES:
                _shapes.clear()
                _passed.clear()  # (keyed by the ids of the checks just dropped)
            _shapes[key] = checks
    if checks is None:
        return False
    for check, (_, value) in zip(checks, leaves, strict=True):
        if check is not None:
            _check(check, value)
    return True


#: (id of a check, type, value) that passed: the same value passes the same lookup again.
_passed: dict[tuple[int, type, Any], None] = {}


def _check(check: tuple[type[Lookup], Any], value: Any) -> None:
    try:
        seen: tuple[int, type, Any] | None = (id(check), type(value), value)
        if seen in _passed:
            return
    except TypeError:  # unhashable (a list, an unsaved instance): checked every time
        seen = None
    check[0](check[1], value)
    if seen is not None:
        if len(_passed) >= _MAX_SHAPES:
            _passed.clear()
        _passed[seen] = None


__all__ = ["validate"]
