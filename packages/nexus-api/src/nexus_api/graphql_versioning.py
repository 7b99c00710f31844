"""GraphQL side of versioning: a field that belongs to a REST API version inherits that
version's deprecation as its ``deprecationReason``.

GraphQL has no request versions; what it has is per-field deprecation. Tying the two means
one declaration (``NEXUS_API["VERSIONS"]``) retires a shape in REST and GraphQL alike.
graphene is not imported here: the helper works on graphene's objects by duck typing, so
this module is importable without the ``graphql`` extra.
"""

from __future__ import annotations

from typing import Any, TypeVar

from nexus_api.versioning._versions import get_versions

__all__ = ["deprecation_reason", "versioned_field"]

F = TypeVar("F")


def deprecation_reason(version: str, *, replacement: str | None = None) -> str | None:
    """The ``deprecationReason`` for something that exists only up to API ``version``.

    ``None`` while that version is not deprecated (no ``deprecated`` date declared).
    Raises ``ImproperlyConfigured`` for an undeclared version.
    """
    declared = get_versions()[version]
    if declared.deprecated is None:
        return None
    reason = f"Belongs to API version {declared.name}, deprecated on {declared.deprecated.date().isoformat()}"
    if declared.sunset is not None:
        reason += f" and removed on {declared.sunset.date().isoformat()}"
    reason += "."
    if replacement:
        reason += f" Use `{replacement}` instead."
    if declared.link:
        reason += f" See {declared.link}"
    return reason


def versioned_field(field: F, *, version: str, replacement: str | None = None) -> F:
    """Mark a graphene field (``graphene.String()`` or ``graphene.Field(...)``) as part of
    API ``version``: it is deprecated exactly when that version is.

    ``title = versioned_field(graphene.String(), version="1", replacement="name")``
    """
    reason = deprecation_reason(version, replacement=replacement)
    if reason is None:
        return field
    target: Any = field
    if hasattr(target, "deprecation_reason"):
        # A mounted graphene.Field.
        target.deprecation_reason = reason
    elif isinstance(getattr(target, "kwargs", None), dict):
        # An unmounted type (graphene.String()): the kwargs reach the Field it mounts as.
        target.kwargs["deprecation_reason"] = reason
    else:
        raise TypeError(
            f"versioned_field() expects a graphene field or scalar instance, not {type(field).__name__}: "
            f"wrap an instance such as graphene.String() or graphene.Field(ListingType)."
        )
    return field
