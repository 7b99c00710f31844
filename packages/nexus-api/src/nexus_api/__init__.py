"""nexus-api: DRF and graphene-django pagination, versioning and errors that hold up at scale.

Importing the package needs neither app loading nor DRF, graphene or drf-spectacular: the
public names below are imported on first use (PEP 562). Importing from the submodules
(``nexus_api.pagination``, ``nexus_api.graphql``...) works the same.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0.dev0"

#: public name -> module that defines it
_LAZY: dict[str, str] = {
    "InvalidCursor": "nexus_api.pagination",
    "KeysetPagination": "nexus_api.pagination",
    "PageNumberPagination": "nexus_api.pagination",
    "PageTooDeep": "nexus_api.pagination",
    "KeysetConnectionField": "nexus_api.graphql",
    "NexusVersioning": "nexus_api.versioning",
    "VersionedSerializerMixin": "nexus_api.versioning",
    "VersionChange": "nexus_api.versioning",
    "VersionChangesMixin": "nexus_api.versioning",
    "ProblemException": "nexus_api.errors",
    "problem_exception_handler": "nexus_api.errors",
}

__all__ = [
    "InvalidCursor",
    "KeysetConnectionField",
    "KeysetPagination",
    "NexusVersioning",
    "PageNumberPagination",
    "PageTooDeep",
    "ProblemException",
    "VersionChange",
    "VersionChangesMixin",
    "VersionedSerializerMixin",
    "__version__",
    "problem_exception_handler",
]

if TYPE_CHECKING:
    from nexus_api.errors import ProblemException, problem_exception_handler
    from nexus_api.graphql import KeysetConnectionField
    from nexus_api.pagination import InvalidCursor, KeysetPagination, PageNumberPagination, PageTooDeep
    from nexus_api.versioning import (
        NexusVersioning,
        VersionChange,
        VersionChangesMixin,
        VersionedSerializerMixin,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nexus_api' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
