"""Deprecated API versions become GraphQL deprecationReason on versioned fields."""

from __future__ import annotations

from typing import Any

import graphene
import pytest
from django.core.exceptions import ImproperlyConfigured

from nexus_api.graphql_versioning import deprecation_reason, versioned_field

VERSIONS = {
    "1": {"deprecated": "2026-01-01", "sunset": "2027-06-30", "link": "https://docs.example.com/v1"},
    "2": {"deprecated": "2026-03-01"},
    "3": {},
}


@pytest.fixture(autouse=True)
def versions(settings: Any) -> None:
    settings.NEXUS_API = {"VERSIONS": VERSIONS, "DEFAULT_VERSION": "3"}


def build_schema() -> graphene.Schema:
    class Listing(graphene.ObjectType):
        name = graphene.String()
        title = versioned_field(graphene.String(), version="1", replacement="name")
        legacy_price = versioned_field(graphene.Field(graphene.String), version="2")
        rating = versioned_field(graphene.Int(), version="3")

    class Query(graphene.ObjectType):
        listing = graphene.Field(Listing)

        def resolve_listing(self, info: Any) -> dict[str, Any]:
            return {"name": "Loft", "title": "Loft", "legacy_price": "1", "rating": 4}

    return graphene.Schema(query=Query)


def test_introspection_shows_the_reasons() -> None:
    result = build_schema().execute(
        '{ __type(name: "Listing") { fields(includeDeprecated: true) { name isDeprecated deprecationReason } } }'
    )
    assert result.errors is None
    fields = {f["name"]: f for f in result.data["__type"]["fields"]}
    assert fields["title"]["isDeprecated"] is True
    assert fields["title"]["deprecationReason"] == (
        "Belongs to API version 1, deprecated on 2026-01-01 and removed on 2027-06-30. "
        "Use `name` instead. See https://docs.example.com/v1"
    )
    assert fields["legacyPrice"]["deprecationReason"] == "Belongs to API version 2, deprecated on 2026-03-01."
    assert fields["rating"]["isDeprecated"] is False
    assert fields["name"]["isDeprecated"] is False
    # Deprecated fields still resolve.
    data = build_schema().execute("{ listing { title legacyPrice rating } }").data
    assert data == {"listing": {"title": "Loft", "legacyPrice": "1", "rating": 4}}


def test_reason_helper_and_errors() -> None:
    assert deprecation_reason("3") is None
    with pytest.raises(ImproperlyConfigured, match="'9' is not declared"):
        deprecation_reason("9")
    with pytest.raises(TypeError, match="expects a graphene field"):
        versioned_field(object(), version="1")
