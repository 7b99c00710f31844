"""nexus-cache: cache invalidation for Django that is correct by construction.

Importing the package needs neither app loading nor the optional extras: the public names
are resolved lazily (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0.dev0"

__all__ = [
    "CacheResponseMixin",
    "__version__",
    "cache_view",
    "cached",
    "cached_resolver",
    "invalidate",
    "stats",
]

_LAZY = {
    "cached": ("nexus_cache._functions", "cached"),
    "invalidate": ("nexus_cache._api", "invalidate"),
    "stats": ("nexus_cache._api", "stats"),
    "cache_view": ("nexus_cache._views", "cache_view"),
    "CacheResponseMixin": ("nexus_cache.drf", "CacheResponseMixin"),
    "cached_resolver": ("nexus_cache.graphene", "cached_resolver"),
}

if TYPE_CHECKING:
    from nexus_cache._api import invalidate, stats
    from nexus_cache._functions import cached
    from nexus_cache._views import cache_view
    from nexus_cache.drf import CacheResponseMixin
    from nexus_cache.graphene import cached_resolver


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'nexus_cache' has no attribute {name!r}") from None
    import importlib

    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
