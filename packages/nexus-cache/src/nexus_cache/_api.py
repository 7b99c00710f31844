"""``invalidate()`` and ``stats()``: the explicit side of the API."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db import connections, models
from django.db.models.base import ModelBase

from nexus_cache import _sql, _stats, _tokens, _tracking

ModelTarget = type[models.Model] | models.Model | str


def _resolve(target: ModelTarget) -> tuple[type[models.Model], models.Model | None]:
    if isinstance(target, str):
        try:
            return apps.get_model(target), None
        except (LookupError, ValueError) as exc:
            raise LookupError(
                f"invalidate({target!r}): no such model; pass 'app_label.ModelName', a model class or an instance"
            ) from exc
    if isinstance(target, ModelBase):
        return target, None
    if isinstance(target, models.Model):
        return type(target), target
    raise TypeError(
        f"invalidate() takes a model class, a model instance or 'app_label.Model', not {type(target).__name__}"
    )


def _tables(model: type[models.Model]) -> list[tuple[type[models.Model], str]]:
    """The model's table and its multi-table-inheritance parents' tables."""
    concrete = model._meta.concrete_model or model
    opts = concrete._meta
    out: list[tuple[type[models.Model], str]] = [(concrete, opts.db_table)]
    out.extend((parent, parent._meta.db_table) for parent in opts.get_parent_list())
    return out


def names_for(target: ModelTarget, ns: str, alias: str) -> set[str]:
    model, instance = _resolve(target)
    names: set[str] = {_tokens.any_write(ns)}
    for m, table in _tables(model):
        names.add(_tokens.table(ns, table))
        if instance is None:
            names.update((_tokens.bulk(ns, table), _tokens.inserts(ns, table)))
        else:
            if instance.pk is None:
                raise ValueError(
                    f"invalidate(): the {model._meta.label} instance has no primary key yet; save it "
                    f"first, or pass the model ({model._meta.label}) to invalidate the whole table"
                )
            pk_field = m._meta.pk
            assert pk_field is not None
            value = pk_field.get_db_prep_value(instance.pk, connections[alias], prepared=False)
            names.add(_tokens.row(ns, table, _sql.row_key(value)))
    return names


def primary_aliases() -> list[str]:
    """One alias per token namespace (replicas share their primary's)."""
    seen: dict[str, str] = {}
    for alias in connections:
        seen.setdefault(_tokens.namespace(alias), alias)
    return list(seen.values())


def after_commit(alias: str | None, names: set[str]) -> None:
    """Replace tokens after the surrounding transaction commits (now, outside one)."""
    in_tx = [conn for conn in connections.all(initialized_only=True) if _tracking.in_transaction(conn)]
    if not in_tx:
        _tracking.apply_invalidation(alias, names)
        return
    for conn in in_tx:
        _tracking.register_write(conn, set(names))


def invalidate(target: ModelTarget, *, using: str | None = None) -> None:
    """Invalidate every cached value that depends on a model's table, or on one instance.

    ``invalidate(Listing)`` / ``invalidate("listings.Listing")``: everything that read the
    table. ``invalidate(listing)``: values that read that row (and anything that read the
    table as a whole). Inside a transaction the tokens are replaced when it commits.
    Writes through Django need no call: use this after writes Django cannot see.
    """
    aliases = [using] if using is not None else primary_aliases()
    for alias in aliases:
        ns = _tokens.namespace(alias)
        after_commit(alias, names_for(target, ns, alias))


def stats() -> dict[str, Any]:
    """Counters of hits, misses, invalidations, errors... summed over every process that
    shares the cache (``local`` holds this process's own). Reading flushes this process's
    pending counts first."""
    _stats.flush()
    shared = _stats.shared()
    out: dict[str, Any] = dict(shared) if shared is not None else dict(_stats.local())
    total = out["hits"] + out["misses"]
    out["hit_rate"] = round(out["hits"] / total, 4) if total else None
    out["local"] = _stats.local()
    out["shared"] = shared is not None
    return out


__all__ = ["invalidate", "stats"]
