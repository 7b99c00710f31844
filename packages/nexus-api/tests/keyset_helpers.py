"""Reference ordering in Python, and page walkers, for the keyset tests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models import QuerySet

from nexus_api.keyset import Keyset


def value_at(row: Any, path: str) -> Any:
    value = row
    for part in path.split("__"):
        if value is None:
            return None
        value = getattr(value, part)
    return value


def expected_ids(rows: Iterable[Any], ordering: Sequence[str]) -> list[int]:
    """The order the engine promises: NULL larger than every value, then ``id`` ascending."""
    ordered = sorted(rows, key=lambda row: row.pk)
    for term in reversed(ordering):
        descending = term.startswith("-")
        path = term.lstrip("-")

        def key(row: Any, path: str = path) -> tuple[bool, Any]:
            value = value_at(row, path)
            return (value is None, value if value is not None else 0)

        ordered.sort(key=key, reverse=descending)
    return [row.pk for row in ordered]


def walk_forward(keyset: Keyset, queryset: QuerySet[Any], size: int, limit: int = 10_000) -> list[list[int]]:
    pages: list[list[int]] = []
    token: str | None = None
    for _ in range(limit):
        page = keyset.page(queryset, size=size, cursor=keyset.decode(token) if token else None)
        pages.append([row.pk for row in page.rows])
        token = keyset.next_cursor(page)
        if token is None:
            return pages
    raise AssertionError("the walk did not end")


def walk_backward(keyset: Keyset, queryset: QuerySet[Any], size: int, limit: int = 10_000) -> list[list[int]]:
    """From the last page (relay's ``last`` without ``before``) to the first."""
    pages: list[list[int]] = []
    page = keyset.page(queryset, size=size, reverse=True)
    for _ in range(limit):
        pages.append([row.pk for row in page.rows])
        token = keyset.previous_cursor(page)
        if token is None:
            return pages[::-1]
        page = keyset.page(queryset, size=size, cursor=keyset.decode(token))
    raise AssertionError("the walk did not end")
