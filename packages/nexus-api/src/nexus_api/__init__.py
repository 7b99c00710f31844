"""nexus-api: DRF and graphene-django pagination, versioning and errors that hold up at scale."""

from __future__ import annotations

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
