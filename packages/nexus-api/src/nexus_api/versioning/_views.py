"""``VersionedSerializerMixin``: one view, a serializer class per version."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from nexus_api.versioning._versions import get_versions

__all__ = ["VersionedSerializerMixin", "serializer_for_version"]


def serializer_for_version(classes: Mapping[str, Any], version: str | None) -> Any | None:
    """``classes[version]``, else the entry of the closest lower declared version.

    A version that changed nothing for this view needs no entry: version 3 keeps using
    the class declared for 2. ``None`` when only newer versions have an entry.
    """
    versions = get_versions()
    requested = versions.get(version) if version else versions.default
    if requested is None:
        return classes.get(version) if version else None
    if requested.name in classes:
        return classes[requested.name]
    for candidate in reversed(versions.ordered[: requested.index]):
        if candidate.name in classes:
            return classes[candidate.name]
    return None


class VersionedSerializerMixin:
    """Mixin for ``GenericAPIView`` subclasses: ``serializer_classes = {"1": V1, "2": V2}``.

    The request's version picks the class; a version without an entry falls back to the
    closest lower one, and below the lowest entry to ``serializer_class`` if set.
    """

    serializer_classes: Mapping[str, Any] = {}

    def get_serializer_class(self) -> Any:
        classes = self.serializer_classes
        if not classes:
            return super().get_serializer_class()  # type: ignore[misc]
        version = getattr(getattr(self, "request", None), "version", None)
        chosen = serializer_for_version(classes, version if isinstance(version, str) else None)
        if chosen is not None:
            return chosen
        if getattr(self, "serializer_class", None) is not None:
            return super().get_serializer_class()  # type: ignore[misc]
        raise ImproperlyConfigured(
            f"{type(self).__name__}.serializer_classes has no entry for API version {version!r} "
            f"or any older version (entries: {', '.join(classes)}); add one or set serializer_class."
        )
