"""Cached querysets: ``Model.objects.filter(...).cached(timeout=60)``.

A ``CachedQuerySet`` marked with ``.cached()`` keeps being an ordinary queryset; only its
evaluation (iteration, ``len``, ``get()``, ``first()/last()``, slicing, ``values()`` and
``values_list()``) and ``count()``, ``exists()`` and ``aggregate()`` go through the cache.
The key is the queryset's *recipe* - the manager calls that built it, with canonical
arguments - or, when a call has no canonical form, the SQL it compiles to (with its
parameters, database alias, result shape and prefetches). Dependencies are the tables its
queries - including ``select_related`` joins and ``prefetch_related`` queries - actually
read. A hit is meant to cost about what building the queryset costs in Django, so the hot
path avoids compiling SQL, ``add_q`` and Query copies (see ``_filters`` and
``_SharedQuery``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any, TypeVar

from django.core.exceptions import EmptyResultSet
from django.db import models
from django.db.models import F, Prefetch, Q, sql
from django.db.models.manager import BaseManager
from django.db.models.query import ModelIterable

from nexus_cache import _core, _filters, _functions, _keys
from nexus_cache.conf import _reload_hooks

_M = TypeVar("_M", bound=models.Model, covariant=True)

__all__ = ["CacheInvalidationMixin", "CachedManager", "CachedQuerySet"]


def _describe_prefetch(lookup: Any) -> str:
    if isinstance(lookup, Prefetch):
        inner = ""
        if lookup.queryset is not None:
            try:
                sql, params = lookup.queryset.query.sql_with_params()
                inner = f"{sql}\0{_keys.encode_loose(params)}"
            except EmptyResultSet:
                inner = "empty"
        return f"P({lookup.prefetch_through}|{lookup.prefetch_to}|{lookup.to_attr}|{inner})"
    return f"s({lookup})"


_NOT_FOUND = ("nexus_cache", "row not found")


def _options(
    timeout: int | None, stale: float | None, early: float | None, depends_on: Iterable[Any] = ()
) -> _core.Options:
    return _core.options(".cached", timeout, stale, early, tuple(depends_on))


def _static(opts: _core.Options) -> Iterable[str]:
    """Token names of ``.cached(depends_on=...)`` (none: the usual case, free)."""
    deps = opts.depends_on
    return _functions.dependency_names(deps) if deps else ()


def _p(qs: Any) -> Any:
    """QuerySet internals (``_chain``, ``_fields``...) that django-stubs does not declare."""
    return qs


def _expr_key(expr: Any) -> str:
    return repr(getattr(expr, "identity", expr))


def _renc(value: Any) -> str:
    """Canonical form of a queryset-method argument (Q and F included); TypeError if none."""
    if isinstance(value, Q):
        children: list[Any] = list(value.children)
        kids = ",".join(_renc(c) if isinstance(c, Q) else f"{c[0]}={_keys.encode(c[1])}" for c in children)
        return f"Q({value.connector},{value.negated},{kids})"
    if isinstance(value, F) and type(value) is F:
        return f"F({getattr(value, 'name', '')})"
    if isinstance(value, tuple | list):
        return "(" + ",".join(_renc(v) for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}={_renc(v)}" for k, v in sorted(value.items())) + "}"
    return _keys.encode(value)


class _SharedQuery:
    """What ``CachedQuerySet.query`` gives Django's ``_clone``: ``chain()`` returns the
    Query itself, for the clone to share (copy-on-write) instead of copying it."""

    __slots__ = ("query",)

    def __init__(self, query: Any) -> None:
        self.query = query

    def chain(self) -> Any:
        return self.query


_pristine_queries: dict[type[models.Model], Any] = {}


def _pristine_query(model: type[models.Model]) -> Any:
    """``sql.Query(model)``, made once per model and never changed: shared by every fresh
    queryset until one of them needs its own copy."""
    q = _pristine_queries.get(model)
    if q is None:
        q = _pristine_queries[model] = sql.Query(model)
    return q


@functools.cache
def _schema(model: type[models.Model]) -> str:
    """The columns a model loads: part of recipe keys, so a deploy that changes the model
    never unpickles old instances into it."""
    return ",".join(f"{f.attname}:{f.column}" for f in model._meta.concrete_fields)


# -- memoized key material ------------------------------------------------------------------
# A hit builds the same few querysets over and over: their filter steps, recipe keys and
# get(pk=) keys are remembered (bounded; cleared with the settings, which name the
# prefix). Memo keys hold the values *and their exact types*, so ``1``, ``True`` and
# ``"1"`` - equal or not as dict keys - never share an entry.

_MEMO_MAX = 8192
#: Values whose type and equality determine their key text exactly (not float: 0.0 and
#: -0.0 are equal but encode differently; not containers, models or anything mutable).
_PLAIN_TYPES = frozenset({str, int, bool, type(None)})
_steps: dict[tuple[Any, ...], str | None] = {}
_recipe_keys: dict[tuple[Any, ...], str] = {}
_get_keys: dict[tuple[Any, ...], str] = {}
_UNSEEN: Any = object()


def memo_clear() -> None:
    """Forget memoized key material (settings changed)."""
    _steps.clear()
    _recipe_keys.clear()
    _get_keys.clear()


_reload_hooks.append(memo_clear)


def _remember(memo: dict[tuple[Any, ...], Any], key: tuple[Any, ...], value: Any) -> None:
    if len(memo) >= _MEMO_MAX:
        memo.clear()
    memo[key] = value


def _lazy_step(
    model: type[models.Model], negate: bool, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> str | None:
    """The recipe step of a pending filter()/exclude(), after checking it as Django would
    (raising what Django raises at the call); None when it must be applied at once."""
    memo_key: tuple[Any, ...] | None = None
    if not args and all(type(v) in _PLAIN_TYPES for v in kwargs.values()):
        memo_key = (model, negate, *((k, type(v), v) for k, v in kwargs.items()))
        step = _steps.get(memo_key, _UNSEEN)
        if step is not _UNSEEN:
            return step  # type: ignore[no-any-return]
    try:
        step = f"{'exclude' if negate else 'filter'}{_renc(args)}{_renc(kwargs)}"
    except TypeError:
        return None
    # Django raises bad field names and values at the call: so must a pending filter.
    if not _filters.validate(model, negate, args, kwargs):
        step = None
    if memo_key is not None:  # (only after validate() passed or declined: never a raise)
        _remember(_steps, memo_key, step)
    return step  # type: ignore[no-any-return]


def _recipe_key(
    operation: str,
    db: str,
    model: type[models.Model],
    iterable_class: type,
    fields: tuple[str, ...] | None,
    low: int,
    high: int | None,
    recipe: tuple[str, ...],
    extra: str,
) -> str:
    memo_key: tuple[Any, ...] | None = (
        operation,
        db,
        model,
        iterable_class,
        fields,
        low,
        high,
        recipe,
        extra,
    )
    try:
        ekey = _recipe_keys.get(memo_key)  # type: ignore[arg-type]
    except TypeError:  # (values() with something unhashable in _fields: not memoized)
        memo_key, ekey = None, None
    if ekey is None:
        material = "\0".join(
            (
                operation,
                db,
                model._meta.label_lower,
                _schema(model),
                f"{iterable_class.__module__}.{iterable_class.__qualname__}",
                repr(fields),
                f"{low}:{high}",
                ";".join(recipe),
                extra,
            )
        )
        ekey = _core.entry_key("qsr", material)
        if memo_key is not None:
            _remember(_recipe_keys, memo_key, ekey)
    return ekey


def _get_key(db: str, model: type[models.Model], value: Any) -> str | None:
    """The entry key of ``get(pk=value)`` on a whole table; None when ``value`` has no
    canonical form."""
    plain = type(value) in _PLAIN_TYPES
    if plain:
        ekey = _get_keys.get((db, model, type(value), value))
        if ekey is not None:
            return ekey
    try:
        material = f"{db}\0{model._meta.label_lower}\0{_keys.encode(value)}"
    except TypeError:
        return None
    ekey = _core.entry_key("get", material)
    if plain:
        _remember(_get_keys, (db, model, type(value), value), ekey)
    return ekey


class CachedQuerySet(models.QuerySet[_M]):
    """A QuerySet whose ``.cached()`` clones evaluate through nexus-cache.

    Besides the options, a queryset carries a *recipe*: the calls that built it from the
    manager's fresh queryset, with canonical arguments. When every call is known and its
    arguments have a canonical form, the recipe is the key and a hit compiles no SQL.
    Anything else (expressions, subqueries, ``extra()``, direct ``query`` changes after
    an unknown call) drops the recipe, and the compiled SQL is the key.
    """

    _nx_opts: _core.Options | None = None
    _nx_recipe: tuple[str, ...] | None = None
    #: Filters recorded in the recipe but not yet added to the Query (``add_q`` is the
    #: expensive part of building a queryset; a hit keyed by the recipe never needs it).
    _nx_pending: tuple[tuple[bool, tuple[Any, ...], dict[str, Any]], ...] = ()
    #: The Query is shared with other querysets and copied before its first change
    #: ("chain": as Django's ``_clone`` would have copied it; "clone": a plain copy, for
    #: the queryset it was cloned from and for a manager's fresh queryset). A hit reads
    #: nothing that needs a copy: building ``M.objects.filter(...).cached()`` then costs
    #: no Query construction and no Query copy.
    _nx_shared: str | None = None
    _nx_cloning = False

    def __init__(self, model: Any = None, query: Any = None, using: Any = None, hints: Any = None) -> None:
        fresh = query is None
        if fresh and model is not None:
            query = _pristine_query(model)
        super().__init__(model, query, using, hints)
        if fresh and model is not None:
            self._nx_shared = "clone"
        # A queryset made from a fresh Query (what a manager hands out) starts a recipe.
        self._nx_recipe = () if fresh else None

    def _own_query(self) -> None:
        shared = self._nx_shared
        if shared is not None:
            self._nx_shared = None
            q = _p(self)._query
            _p(self)._query = q.chain() if shared == "chain" else q.clone()

    @property
    def query(self) -> Any:
        if self._nx_cloning:
            # Django's _clone() is reading us: hand it the Query to share, not to copy
            # (after applying Django's own deferred filter, as its getter would).
            if _p(self)._deferred_filter:
                self._own_query()
                models.QuerySet.query.fget(self)  # type: ignore[attr-defined]
            return _SharedQuery(_p(self)._query)
        self._own_query()
        q = models.QuerySet.query.fget(self)  # type: ignore[attr-defined]
        pending = self._nx_pending
        if pending:
            self._nx_pending = ()
            for negate, args, kwargs in pending:
                _p(self)._filter_or_exclude_inplace(negate, args, kwargs)
        return q

    @query.setter
    def query(self, value: Any) -> None:
        self._nx_pending = ()
        self._nx_recipe = None
        self._nx_shared = None
        models.QuerySet.query.fset(self, value)  # type: ignore[attr-defined]

    def _filter_or_exclude_inplace(self, negate: bool, args: Any, kwargs: Any) -> None:
        # Django changes _query in place here, without its getter: own it first.
        self._own_query()
        super()._filter_or_exclude_inplace(negate, args, kwargs)  # type: ignore[misc]

    def __getstate__(self) -> dict[str, Any]:
        self.query  # noqa: B018 - apply pending filters before pickling
        return super().__getstate__()

    def _lazy_filter(
        self, negate: bool, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> CachedQuerySet[_M] | None:
        """filter()/exclude() on the recipe path: record, apply later (or never, on a hit)."""
        if self._nx_recipe is None or _p(self)._defer_next_filter or not (args or kwargs):
            return None
        query = _p(self)._query
        if query.is_sliced:
            raise TypeError("Cannot filter a query once a slice has been taken.")
        if query.annotations:
            return None
        step = _lazy_step(self.model, negate, args, kwargs)
        if step is None:
            return None
        clone: CachedQuerySet[_M] = _p(self)._chain()
        clone._nx_pending = (*clone._nx_pending, (negate, args, kwargs))
        clone._nx_recipe = (*self._nx_recipe, step)
        return clone

    def filter(self, *args: Any, **kwargs: Any) -> CachedQuerySet[_M]:
        lazy = self._lazy_filter(False, args, kwargs)  # (never `or`: that evaluates a queryset)
        return lazy if lazy is not None else self._recorded_call("filter", args, kwargs)

    def exclude(self, *args: Any, **kwargs: Any) -> CachedQuerySet[_M]:
        lazy = self._lazy_filter(True, args, kwargs)
        return lazy if lazy is not None else self._recorded_call("exclude", args, kwargs)

    def _recorded_call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        clone = getattr(super(), name)(*args, **kwargs)
        recipe = self._nx_recipe
        if isinstance(clone, CachedQuerySet) and clone is not self:
            step: str | None = None
            if recipe is not None:
                try:
                    step = f"{name}{_renc(args)}{_renc(kwargs)}" if args or kwargs else f"{name}(){{}}"
                except TypeError:
                    step = None
            clone._nx_recipe = None if step is None or recipe is None else (*recipe, step)
        return clone

    # -- marking ---------------------------------------------------------------------------
    def cached(
        self,
        timeout: int | None = None,
        *,
        stale: float | None = None,
        early: float | None = None,
        depends_on: Iterable[_functions.Dependency] = (),
    ) -> CachedQuerySet[_M]:
        """A clone whose evaluation uses the cache; valid until a table it reads (or a model
        in ``depends_on``) is written."""
        clone: CachedQuerySet[_M] = _p(self)._chain()
        clone._nx_opts = _options(timeout, stale, early, depends_on)
        clone._nx_recipe = self._nx_recipe
        return clone

    @classmethod
    def as_manager(cls) -> Any:
        """A ``CachedManager`` for this queryset class (``objects = MyQuerySet.as_manager()``)."""
        manager = CachedManager.from_queryset(cls)()
        manager._built_with_as_manager = True
        return manager

    as_manager.queryset_only = True  # type: ignore[attr-defined]

    def uncached(self) -> CachedQuerySet[_M]:
        """A clone that reads the database directly."""
        clone: CachedQuerySet[_M] = _p(self)._chain()
        clone._nx_opts = None
        clone._nx_recipe = self._nx_recipe
        return clone

    def _clone(self) -> CachedQuerySet[_M]:
        # Django's _clone reads self.query once, to chain() it: share it instead, and carry
        # pending filters to the clone unapplied.
        pending = self._nx_pending
        self._nx_pending = ()
        self._nx_cloning = True
        try:
            clone: CachedQuerySet[_M] = super()._clone()  # type: ignore[misc]
        finally:
            self._nx_cloning = False
            self._nx_pending = pending
        clone._nx_shared = "chain"
        if self._nx_shared is None:
            self._nx_shared = "clone"
        clone._nx_pending = pending
        clone._nx_opts = self._nx_opts
        return clone

    # -- keys ------------------------------------------------------------------------------
    def _next_is_sticky(self) -> CachedQuerySet[_M]:
        # Sticky filters change how the *next* filter joins: not expressible in a recipe.
        self._nx_recipe = None
        return super()._next_is_sticky()  # type: ignore[misc,no-any-return]

    def cache_key(self, operation: str = "fetch", extra: str = "") -> str | None:
        """The entry key of this queryset's evaluation (``None`` when it runs no query)."""
        recipe = self._nx_recipe
        if recipe is not None:
            q: Any = _p(self)._query  # scalars only: pending filters change none of them
            if not q.select_for_update and not q.is_empty():
                return _recipe_key(
                    operation,
                    self.db,
                    self.model,
                    self._iterable_class,
                    _p(self)._fields,
                    q.low_mark,
                    q.high_mark,
                    recipe,
                    extra,
                )
        try:
            sql, params = self.query.get_compiler(using=self.db).as_sql()
        except EmptyResultSet:
            return None
        material = "\0".join(
            (
                operation,
                self.db,
                self.model._meta.label_lower,
                f"{self._iterable_class.__module__}.{self._iterable_class.__qualname__}",
                repr(_p(self)._fields),
                sql,
                _keys.encode_loose(tuple(params)),
                ",".join(_describe_prefetch(lk) for lk in _p(self)._prefetch_related_lookups),
                extra,
            )
        )
        return _core.entry_key("qs", material)

    def _plain(self) -> CachedQuerySet[_M]:
        return self.uncached()

    def _pristine(self) -> bool:
        """True when this queryset is the model's whole table, unshaped: ``get(pk=x)`` on it
        can then be keyed by (database, model, pk) alone, without compiling SQL."""
        p = _p(self)
        q: Any = p._query  # read only; pending filters are checked below
        return bool(
            not self._nx_pending
            and not p._deferred_filter
            and not q.where.children
            and not q.annotations
            and not q.extra
            and not q.select
            and q.default_cols
            and not q.select_related
            and q.deferred_loading == (frozenset(), True)
            and not q.distinct
            and not q.combinator
            and not q.select_for_update
            and not q.values_select
            and q.low_mark == 0
            and q.high_mark is None
            and not q.extra_tables
            and not q.group_by
            and p._fields is None
            and self._iterable_class is ModelIterable
            and not p._prefetch_related_lookups
            and not p._known_related_objects
        )

    def get(self, *args: Any, **kwargs: Any) -> _M:
        opts = self._nx_opts
        if opts is not None and not args and len(kwargs) == 1 and self._result_cache is None:
            pk = self.model._meta.pk
            [(name, value)] = kwargs.items()
            if pk is not None and name in ("pk", pk.name, pk.attname) and self._pristine():
                ekey = _get_key(self.db, self.model, value)
                if ekey is not None:

                    def compute() -> Any:
                        try:
                            return self._plain().get(**kwargs)
                        except _p(self.model).DoesNotExist:
                            return _NOT_FOUND  # cached too: an insert invalidates it

                    def found(value: Any, rec: Any) -> None:
                        if value != _NOT_FOUND:
                            rec.rows_found(1)

                    result = _core.get_or_compute(
                        ekey, compute, static=_static(opts), opts=opts, on_value=found
                    )
                    if result.value == _NOT_FOUND:
                        raise _p(self.model).DoesNotExist(
                            f"{self.model._meta.object_name} matching query does not exist."
                        )
                    return result.value  # type: ignore[no-any-return]
        return super().get(*args, **kwargs)

    # -- evaluation ------------------------------------------------------------------------
    def _fetch_all(self) -> None:
        opts = self._nx_opts
        # (self._query, not self.query: pending filters must stay pending on a hit)
        if self._result_cache is None and opts is not None and not _p(self)._query.select_for_update:
            ekey = self.cache_key()
            if ekey is not None:

                def compute() -> list[Any]:
                    plain = self._plain()
                    plain._fetch_all()
                    return plain._result_cache or []

                def found(value: list[Any], rec: Any) -> None:
                    rec.rows_found(len(value))

                result = _core.get_or_compute(ekey, compute, static=_static(opts), opts=opts, on_value=found)
                self._result_cache = result.value
                self._prefetch_done = True
        super()._fetch_all()

    def _cached_call(self, operation: str, extra: str, compute: Any) -> Any:
        assert self._nx_opts is not None
        ekey = self.cache_key(operation, extra)
        if ekey is None:
            return compute()
        opts = self._nx_opts
        return _core.get_or_compute(ekey, compute, static=_static(opts), opts=opts).value

    def count(self) -> int:
        if self._nx_opts is None or self._result_cache is not None:
            return super().count()
        plain = self._plain()
        return int(self._cached_call("count", "", plain.count))

    def exists(self) -> bool:
        if self._nx_opts is None or self._result_cache is not None:
            return super().exists()
        plain = self._plain()
        return bool(self._cached_call("exists", "", plain.exists))

    def aggregate(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if self._nx_opts is None:
            return super().aggregate(*args, **kwargs)
        try:
            extra = (
                ",".join(_expr_key(a) for a in args)
                + "|"
                + ",".join(f"{k}={_expr_key(v)}" for k, v in sorted(kwargs.items()))
            )
        except Exception:  # pragma: no cover - an expression without a stable form
            return super().aggregate(*args, **kwargs)
        plain = self._plain()
        return dict(self._cached_call("aggregate", extra, lambda: plain.aggregate(*args, **kwargs)))


def _recorded(name: str) -> Any:
    def method(self: CachedQuerySet[Any], *args: Any, **kwargs: Any) -> Any:
        return self._recorded_call(name, args, kwargs)

    method.__name__ = name
    method.__qualname__ = f"CachedQuerySet.{name}"
    method.__doc__ = getattr(models.QuerySet, name).__doc__
    return method


for _name in (
    "all",
    "order_by",
    "reverse",
    "distinct",
    "select_related",
    "prefetch_related",
    "only",
    "defer",
    "values",
    "values_list",
    "using",
):
    setattr(CachedQuerySet, _name, _recorded(_name))


class CachedManager(BaseManager.from_queryset(CachedQuerySet)):  # type: ignore[misc]
    """``objects = CachedManager()``: ``Model.objects.cached()...``."""

    def cached(
        self,
        timeout: int | None = None,
        *,
        stale: float | None = None,
        early: float | None = None,
        depends_on: Iterable[_functions.Dependency] = (),
    ) -> CachedQuerySet[Any]:
        # The manager's fresh queryset is referenced by nobody else: mark it instead of
        # cloning it (one Query copy less on every hit).
        qs = self.get_queryset()
        if isinstance(qs, CachedQuerySet) and qs._nx_opts is None and qs._result_cache is None:
            qs._nx_opts = _options(timeout, stale, early, depends_on)
            return qs
        return qs.cached(timeout, stale=stale, early=early, depends_on=depends_on)  # type: ignore[no-any-return]


class CacheInvalidationMixin(models.Model):
    """Abstract base: gives a model ``objects = CachedManager()`` and ``invalidate_cache()``.

    Invalidation itself needs no mixin (every write is seen at the SQL level); this is the
    convenient way to get cached querysets on a model.
    """

    objects = CachedManager()

    class Meta:
        abstract = True

    def invalidate_cache(self) -> None:
        """Invalidate what was cached from this row (after the current commit)."""
        from nexus_cache._api import invalidate

        invalidate(self)
