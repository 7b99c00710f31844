"""Turn an ordering such as ``("-created_at", "host__name")`` into resolved sort keys.

Each key knows its lookup path, direction and whether it can be NULL (a nullable column or
a nullable relation on the way to it); the primary key is appended as the tie-breaker so
that every row has a unique position, which is what makes keyset paging exact.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import models
from django.db.models.expressions import Expression, OrderBy

__all__ = ["Key", "KeyColumn", "KeyOrderBy", "normalize_ordering", "queryset_ordering", "resolve_ordering"]


@dataclasses.dataclass(frozen=True)
class Key:
    """One sort key. NULL sorts as larger than every value, in both directions and on every
    database (``NULLS LAST`` ascending, ``NULLS FIRST`` descending: PostgreSQL's own default,
    so a plain B-tree index matches)."""

    #: Lookup path usable in ``filter()``/``F()`` (``created_at``, ``host__name``, ``host_id``).
    path: str
    descending: bool
    nullable: bool
    #: The model field (or annotation output field) the values belong to; ``None`` if unknown.
    field: models.Field[Any, Any] | None = None
    #: Read from the row by attribute (plain columns) or through an annotation (joins).
    attname: str | None = None

    @property
    def term(self) -> str:
        return f"-{self.path}" if self.descending else self.path

    def order_by(self, *, reverse: bool) -> OrderBy:
        expression = KeyColumn(self)
        if self.descending != reverse:
            return KeyOrderBy(expression, descending=True, nulls_first=True if self.nullable else None)
        return KeyOrderBy(expression, descending=False, nulls_last=True if self.nullable else None)


def fast_copy(expression: Any) -> Any:
    """What ``copy.copy(expression)`` (``BaseExpression.copy``) returns - a new instance with
    the state ``__getstate__`` gives - without going through the pickle protocol."""
    clone = object.__new__(type(expression))
    clone.__dict__.update(expression.__getstate__())
    return clone


class KeyOrderBy(OrderBy):
    """``OrderBy`` for a sort key. The compiler resolves (copies) every ORDER BY expression
    of every page query; this copy is the same, only cheaper."""

    def copy(self) -> Any:
        return fast_copy(self)


class KeyColumn(Expression):
    """The column of a sort key in a query: what ``F(key.path)`` resolves to.

    The ORDER BY and the seek condition are resolved on every request. For a plain column
    of the queried table, ``F`` goes through ``Query.resolve_ref`` (join setup, then
    trimming a join that was never needed); this builds the same ``Col`` directly. Related
    paths, annotations and inherited columns go through ``F`` unchanged.
    """

    def __init__(self, key: Key) -> None:
        super().__init__()
        self.key = key

    def resolve_expression(
        self,
        query: Any = None,
        allow_joins: bool = True,
        reuse: Any = None,
        summarize: bool = False,
        for_save: bool = False,
    ) -> Any:
        key = self.key
        field = key.field
        model = getattr(query, "model", None)
        if (
            model is not None
            and field is not None
            and key.attname is not None
            and getattr(field, "concrete", False)
            and not field.is_relation
            # A column of the queried table itself (not of an inherited parent's table).
            and getattr(field, "model", None) is model._meta.concrete_model
            and key.path not in query.annotations
        ):
            alias = query.get_initial_alias()
            # Like Query.resolve_ref: queries that do not alias columns get unqualified ones.
            return field.get_col(alias if query.alias_cols else None)  # type: ignore[arg-type]
        return models.F(key.path).resolve_expression(query, allow_joins, reuse, summarize, for_save)

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:  # pragma: no cover
        raise TypeError("KeyColumn must be resolved against a query before it is compiled.")


def normalize_ordering(ordering: str | Iterable[str] | None) -> tuple[str, ...]:
    """Accept what Django and DRF accept for ``ordering``: a string or a sequence of strings."""
    if ordering is None:
        return ()
    if isinstance(ordering, str):
        ordering = [ordering]
    terms: list[str] = []
    for term in ordering:
        if not isinstance(term, str):
            raise ImproperlyConfigured(
                f"Keyset ordering terms must be field names such as 'name' or '-created_at', "
                f"not {term!r}. Give the view (or the connection field) an explicit `ordering`."
            )
        term = term.strip()
        if term:
            terms.append(term)
    return tuple(terms)


def queryset_ordering(queryset: models.QuerySet[Any]) -> tuple[str, ...]:
    """The ordering a list has when its view or field declares none.

    The queryset's own ``order_by()`` when every term is a field name (an expression
    cannot be written into a cursor), else the model's ``Meta.ordering``, else the primary
    key. The REST paginator and the GraphQL field fall back to it alike, so one queryset
    pages in the same order through both.
    """
    explicit = [term for term in queryset.query.order_by if isinstance(term, str)]
    if explicit and len(explicit) == len(queryset.query.order_by):
        return tuple(explicit)
    return normalize_ordering(queryset.model._meta.ordering) or ("pk",)


@functools.lru_cache(maxsize=1024)
def _resolve_path(model: type[models.Model], name: str) -> tuple[str, bool, models.Field[Any, Any], bool]:
    """(lookup path, nullable, final field, unique-per-row) of a field path on ``model``."""
    parts = name.split("__")
    opts = model._meta
    nullable = False
    path: list[str] = []
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        try:
            field = opts.get_field(part)
        except FieldDoesNotExist:
            raise ImproperlyConfigured(
                f"Cannot order {model._meta.label} by {name!r}: {opts.label} has no field {part!r}."
            ) from None
        if field.is_relation:
            if field.many_to_many or field.one_to_many:
                raise ImproperlyConfigured(
                    f"Cannot order {model._meta.label} by {name!r}: {part!r} is a to-many relation, "
                    f"which repeats rows. Order by a field of the model or of a to-one relation."
                )
            if not field.concrete:
                # Reverse one-to-one: the related row may be missing, so the value may be NULL.
                nullable = True
            else:
                nullable = nullable or bool(field.null)
            if last:
                if not field.concrete:
                    raise ImproperlyConfigured(
                        f"Cannot order {model._meta.label} by {name!r}: name a field of the related model, "
                        f"e.g. {name + '__pk'!r}."
                    )
                # Order by the foreign key column itself, not by the related model's ordering.
                assert isinstance(field, models.ForeignKey)
                path.append(field.attname)
                return "__".join(path), nullable, field, len(parts) == 1 and field.unique and not nullable
            path.append(part)
            assert field.related_model is not None
            assert not isinstance(field.related_model, str)
            opts = field.related_model._meta
            continue
        if not last:
            raise ImproperlyConfigured(
                f"Cannot order {model._meta.label} by {name!r}: {part!r} is not a relation, "
                f"so nothing can follow it."
            )
        assert isinstance(field, models.Field)
        nullable = nullable or bool(field.null)
        path.append(field.name)
        unique = len(parts) == 1 and bool(field.unique) and not nullable
        return "__".join(path), nullable, field, unique
    raise ImproperlyConfigured(f"Empty ordering field name on {model._meta.label}.")  # pragma: no cover


def resolve_ordering(
    model: type[models.Model],
    ordering: Iterable[str],
    *,
    annotations: Mapping[str, Any] | None = None,
) -> tuple[Key, ...]:
    """Resolve ``ordering`` on ``model`` and append the primary key as final tie-breaker.

    Terms after a unique, non-nullable column of the model itself are dropped: they can
    never decide anything, and dropping them lets the query use a shorter index.
    """
    terms = normalize_ordering(tuple(ordering))
    if annotations and any(term.lstrip("-+") in annotations for term in terms):
        return _resolve(model, terms, annotations)
    return _resolve_fields(model, terms)


@functools.lru_cache(maxsize=1024)
def _resolve_fields(model: type[models.Model], terms: tuple[str, ...]) -> tuple[Key, ...]:
    # Resolved once per (model, ordering): it runs on every request otherwise.
    return _resolve(model, terms, {})


def _resolve(
    model: type[models.Model], terms: tuple[str, ...], annotations: Mapping[str, Any]
) -> tuple[Key, ...]:
    keys: list[Key] = []
    seen: set[str] = set()
    pk = model._meta.pk
    assert pk is not None
    for term in terms:
        descending = term.startswith("-")
        name = term[1:] if descending else term.removeprefix("+")
        if not name or name == "?" or name.startswith("-"):
            raise ImproperlyConfigured(f"{term!r} is not an ordering that keyset pagination can follow.")
        if name in annotations:
            output = getattr(annotations[name], "output_field", None)
            key = Key(name, descending, nullable=True, field=output, attname=name)
            unique = False
        else:
            if name == "pk":
                name = pk.name
            path, nullable, field, unique = _resolve_path(model, name)
            attname = field.attname if "__" not in path else None
            key = Key(path, descending, nullable, field, attname)
        if key.path in seen:
            continue
        seen.add(key.path)
        keys.append(key)
        if unique:
            return tuple(keys)
    path, _nullable, field, _unique = _resolve_path(model, pk.name)
    keys.append(Key(path, False, False, field, field.attname))
    return tuple(keys)
