"""nexus-cache: cache invalidation for Django that is correct by construction."""

from __future__ import annotations

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
