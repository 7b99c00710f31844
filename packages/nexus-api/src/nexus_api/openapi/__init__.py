"""OpenAPI for nexus-api through drf-spectacular (the ``openapi`` extra).

Importing this package requires drf-spectacular; nothing else in nexus-api imports it.

    REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "nexus_api.openapi.AutoSchema", ...}
"""

from __future__ import annotations

from nexus_api.openapi._problems import COMPONENTS as PROBLEM_COMPONENTS
from nexus_api.openapi._schema import AutoSchema

__all__ = ["PROBLEM_COMPONENTS", "AutoSchema"]
