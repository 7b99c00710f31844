"""Models of the tests app. Each feature keeps its models in its own module, imported here."""

from __future__ import annotations

import importlib.util

from tests.keyset_models import KsHost, KsItem, KsOrdered
from tests.versioning_models import VHost, VListing, VReview

__all__ = ["KsHost", "KsItem", "KsOrdered", "VHost", "VListing", "VReview"]

if importlib.util.find_spec("nexus_cache") is not None:  # the `cache` extra (always in tox)
    from tests.count_cache_models import CcItem

    __all__ += ["CcItem"]
