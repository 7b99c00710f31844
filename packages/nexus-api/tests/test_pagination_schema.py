"""drf-spectacular documents the paginators through DRF's schema hooks."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

pytestmark = pytest.mark.urls("tests.keyset_urls")


def generate() -> dict[str, Any]:
    from drf_spectacular.generators import SchemaGenerator

    rest = {
        **getattr(settings, "REST_FRAMEWORK", {}),
        "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    }
    with override_settings(REST_FRAMEWORK=rest):
        return SchemaGenerator(urlconf="tests.keyset_urls").get_schema(request=None, public=True)


def parameters(schema: dict[str, Any], path: str) -> dict[str, Any]:
    return {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}


def envelope(schema: dict[str, Any], path: str) -> dict[str, Any]:
    ref = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


def test_keyset_parameters_and_envelope() -> None:
    schema = generate()
    params = parameters(schema, "/items/")
    assert params["cursor"]["schema"] == {"type": "string"}
    assert params["page_size"]["schema"]["maximum"] == 10
    assert "host__name" in params["ordering"]["description"]
    body = envelope(schema, "/items/")
    assert set(body["properties"]) == {"results", "next", "previous"}
    assert body["properties"]["next"]["nullable"] is True
    counted = envelope(schema, "/items/counted/")
    assert "count" in counted["required"]
    assert "ordering" not in parameters(schema, "/ordered/")


def test_page_number_parameters_and_envelope() -> None:
    schema = generate()
    params = parameters(schema, "/pages/")
    assert params["page"]["schema"]["maximum"] == 4
    assert params["page_size"]["schema"]["maximum"] == 5
    assert "count" not in envelope(schema, "/pages/")["properties"]
    assert "count" in envelope(schema, "/pages/counted/")["properties"]
