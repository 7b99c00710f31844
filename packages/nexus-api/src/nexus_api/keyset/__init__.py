"""The keyset (seek) pagination engine behind ``KeysetPagination`` and ``KeysetConnectionField``.

Use it directly to page any queryset the same way::

    keyset = Keyset.for_queryset(queryset, ("-created_at",), binding={"city": "Lagos"})
    page = keyset.page(queryset, size=50, cursor=keyset.decode(token) if token else None)
    page.rows, keyset.next_cursor(page), keyset.previous_cursor(page)

Importing this package needs neither DRF nor graphene, nor loaded apps.
"""

from __future__ import annotations

from nexus_api.keyset._count import COUNT_POLICIES, CountPolicy, count_rows, validate_policy
from nexus_api.keyset._cursor import Cursor, CursorEncoder, CursorError
from nexus_api.keyset._engine import Keyset, Page
from nexus_api.keyset._ordering import Key, normalize_ordering, queryset_ordering, resolve_ordering

__all__ = [
    "COUNT_POLICIES",
    "CountPolicy",
    "Cursor",
    "CursorEncoder",
    "CursorError",
    "Key",
    "Keyset",
    "Page",
    "count_rows",
    "normalize_ordering",
    "queryset_ordering",
    "resolve_ordering",
    "validate_policy",
]
