"""drf-spectacular names a list's envelope after its serializer; with nexus_api.openapi's
AutoSchema two views sharing a serializer but not an envelope get one component each."""

from __future__ import annotations

from typing import Any

import pytest
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from openapi_spec_validator import validate as validate_spec

pytestmark = pytest.mark.urls("tests.urls_envelopes")


@pytest.fixture(autouse=True)
def nexus_schema(settings: Any) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_SCHEMA_CLASS": "nexus_api.openapi.AutoSchema",
    }


def envelope_ref(schema: dict[str, Any], route: str) -> str:
    ok = schema["paths"][route]["get"]["responses"]["200"]
    ref: str = ok["content"]["application/json"]["schema"]["$ref"]
    return ref.rsplit("/", 1)[1]


def test_each_envelope_shape_has_its_own_component() -> None:
    GENERATOR_STATS.reset()
    schema: dict[str, Any] = SchemaGenerator(urlconf="tests.urls_envelopes").get_schema(
        request=None, public=True
    )
    validate_schema(schema)
    validate_spec(schema)
    assert not GENERATOR_STATS, "drf-spectacular reported warnings or errors"
    names = {route: envelope_ref(schema, route) for route in schema["paths"]}
    assert names == {
        "/keyset/": "PaginatedItemKeysetList",
        "/keyset/counted/": "PaginatedItemCountedKeysetList",
        "/pages/": "PaginatedItemUncountedList",
        # nexus page numbers with a count have DRF's envelope, so they share DRF's component.
        "/pages/counted/": "PaginatedItemList",
        "/drf-pages/": "PaginatedItemList",
    }
    components = schema["components"]["schemas"]

    def properties(name: str) -> set[str]:
        return set(components[name]["properties"])

    assert properties("PaginatedItemKeysetList") == {"results", "next", "previous"}
    assert properties("PaginatedItemCountedKeysetList") == {"results", "next", "previous", "count"}
    assert "count" in components["PaginatedItemCountedKeysetList"]["required"]
    assert properties("PaginatedItemUncountedList") == {"results", "next", "previous"}
    assert properties("PaginatedItemList") == {"results", "next", "previous", "count"}
    for name in ("PaginatedItemKeysetList", "PaginatedItemUncountedList", "PaginatedItemList"):
        assert components[name]["properties"]["results"]["items"] == {"$ref": "#/components/schemas/Item"}
