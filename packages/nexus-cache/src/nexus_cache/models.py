"""Cached querysets: ``Model.objects.filter(...).cached(timeout=60)``.

A ``CachedQuerySet`` marked with ``.cached()`` keeps being an ordinary queryset; only its
evaluation (iteration, ``len``, ``get()``, ``first()/last()``, slicing, ``values()`` and
``values_list()``) and ``count()``, ``exists()`` and ``aggregate()`` go through the cache.
The key is the SQL the queryset compiles to (with its parameters, database alias, result
shape and prefetches); dependencies are the tables its queries - including
``select_related`` joins and ``prefetch_related`` queries - actually read.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import EmptyResultSet
from django.db import models
from django.db.models import Prefetch
from django.db.models.manager import BaseManager
from django.db.models.query import ModelIterable

from nexus_cache import _core, _keys

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


def _p(qs: Any) -> Any:
    """QuerySet internals (``_chain``, ``_fields``...) that django-stubs does not declare."""
    return qs


def _expr_key(expr: Any) -> str:
    return repr(getattr(expr, "identity", expr))


class CachedQuerySet(models.QuerySet[_M]):
    """A QuerySet whose ``.cached()`` clones evaluate through nexus-cache."""

    _nx_opts: _core.Options | None = None

    # -- marking ---------------------------------------------------------------------------
    def cached(
        self, timeout: int | None = None, *, stale: float | None = None, early: float | None = None
    ) -> CachedQuerySet[_M]:
        """A clone whose evaluation uses the cache; valid until a table it reads is written."""
        if timeout is not None and (
            not isinstance(timeout, int) or isinstance(timeout, bool) or timeout <= 0
        ):
            raise ValueError(f".cached(timeout={timeout!r}): a timeout is a positive number of seconds")
        clone: CachedQuerySet[_M] = _p(self)._chain()
        clone._nx_opts = _core.Options(timeout=timeout, stale=stale, early=early)
        return clone

    def uncached(self) -> CachedQuerySet[_M]:
        """A clone that reads the database directly."""
        clone: CachedQuerySet[_M] = _p(self)._chain()
        clone._nx_opts = None
        return clone

    def _clone(self) -> CachedQuerySet[_M]:
        clone: CachedQuerySet[_M] = super()._clone()  # type: ignore[misc]
        clone._nx_opts = self._nx_opts
        return clone

    # -- keys ------------------------------------------------------------------------------
    def cache_key(self, operation: str = "fetch", extra: str = "") -> str | None:
        """The entry key of this queryset's evaluation (``None`` when it runs no query)."""
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
        q: Any = self.query
        p = _p(self)
        return bool(
            not q.where.children
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
                try:
                    material = f"{self.db}\0{self.model._meta.label_lower}\0{_keys.encode(value)}"
                except TypeError:
                    material = ""
                if material:
                    plain = self._plain()

                    def compute() -> Any:
                        try:
                            return plain.get(**kwargs)
                        except self.model.DoesNotExist:
                            return _NOT_FOUND  # cached too: an insert invalidates it

                    def found(value: Any, rec: Any) -> None:
                        if value != _NOT_FOUND:
                            rec.rows_found(1)

                    result = _core.get_or_compute(
                        _core.entry_key("get", material), compute, opts=opts, on_value=found
                    )
                    if result.value == _NOT_FOUND:
                        raise self.model.DoesNotExist(
                            f"{self.model._meta.object_name} matching query does not exist."
                        )
                    return result.value  # type: ignore[no-any-return]
        return super().get(*args, **kwargs)

    # -- evaluation ------------------------------------------------------------------------
    def _fetch_all(self) -> None:
        opts = self._nx_opts
        if self._result_cache is None and opts is not None and not self.query.select_for_update:
            ekey = self.cache_key()
            if ekey is not None:
                plain = self._plain()

                def compute() -> list[Any]:
                    plain._fetch_all()
                    return plain._result_cache or []

                def found(value: list[Any], rec: Any) -> None:
                    rec.rows_found(len(value))

                result = _core.get_or_compute(ekey, compute, opts=opts, on_value=found)
                self._result_cache = result.value
                self._prefetch_done = True
        super()._fetch_all()

    def _cached_call(self, operation: str, extra: str, compute: Any) -> Any:
        assert self._nx_opts is not None
        ekey = self.cache_key(operation, extra)
        if ekey is None:
            return compute()
        return _core.get_or_compute(ekey, compute, opts=self._nx_opts).value

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


class CachedManager(BaseManager.from_queryset(CachedQuerySet)):  # type: ignore[misc]
    """``objects = CachedManager()``: ``Model.objects.cached()...``."""


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
