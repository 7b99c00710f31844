"""API versioning: ``NexusVersioning`` (sources, deprecation, sunset), per-version
serializers, and Stripe-style ``VersionChange`` translations between versions."""

from __future__ import annotations

from nexus_api.versioning._changes import (
    AddEndpoint,
    AddField,
    ChangeContext,
    ChangeField,
    Operation,
    RemoveEndpoint,
    RemoveField,
    RenameField,
    VersionChange,
    VersionChangesMixin,
    all_changes,
)
from nexus_api.versioning._scheme import (
    EndpointNotInVersion,
    NexusVersioning,
    ResolvedVersion,
    UnsupportedVersion,
    VersionSunset,
    apply_version_headers,
    get_resolved_version,
    resolve_request_version,
)
from nexus_api.versioning._versions import ApiVersion, Versions, get_versions
from nexus_api.versioning._views import VersionedSerializerMixin, serializer_for_version

__all__ = [
    "AddEndpoint",
    "AddField",
    "ApiVersion",
    "ChangeContext",
    "ChangeField",
    "EndpointNotInVersion",
    "NexusVersioning",
    "Operation",
    "RemoveEndpoint",
    "RemoveField",
    "RenameField",
    "ResolvedVersion",
    "UnsupportedVersion",
    "VersionChange",
    "VersionChangesMixin",
    "VersionSunset",
    "VersionedSerializerMixin",
    "Versions",
    "all_changes",
    "apply_version_headers",
    "get_resolved_version",
    "get_versions",
    "resolve_request_version",
    "serializer_for_version",
]
