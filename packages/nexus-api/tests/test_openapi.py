"""OpenAPI through drf-spectacular with nexus_api.openapi.AutoSchema: problem responses,
version headers and parameters, one schema per version, and schemas that validate."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from django.test import override_settings
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from openapi_spec_validator import validate as validate_spec
from rest_framework.test import APIClient

pytestmark = pytest.mark.urls("tests.urls_openapi")

VERSIONS = {
    "1": {"deprecated": "2025-01-01", "sunset": "2099-06-30", "link": "https://docs.example.com/v1"},
    "2": {},
    "3": {},
}


@pytest.fixture(autouse=True)
def spectacular(settings: Any) -> None:
    settings.NEXUS_API = {"VERSIONS": VERSIONS, "DEFAULT_VERSION": "3"}
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_SCHEMA_CLASS": "nexus_api.openapi.AutoSchema",
    }


def generate(version: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = SchemaGenerator(urlconf="tests.urls_openapi", api_version=version).get_schema(
        request=None, public=True
    )
    validate_schema(schema)
    validate_spec(schema)
    return schema


def operation(schema: dict[str, Any], path: str, method: str = "get") -> dict[str, Any]:
    result: dict[str, Any] = schema["paths"][path][method]
    return result


def problem_types(response: dict[str, Any]) -> set[str]:
    examples = response["content"]["application/problem+json"]["examples"]
    return {example["value"]["type"] for example in examples.values()}


@pytest.mark.parametrize("version", [None, "1", "2", "3"])
def test_every_version_schema_validates(version: str | None) -> None:
    generate(version)


def test_one_schema_per_version_with_substituted_paths() -> None:
    v1, v2, v3 = generate("1"), generate("2"), generate("3")
    assert "/api/1/listings/" in v1["paths"]
    assert "/api/2/listings/" in v2["paths"]
    assert "/api/3/listings/" in v3["paths"]
    assert not any("{version}" in path for path in v2["paths"])
    # Endpoints that exist only in some versions (AddEndpoint / RemoveEndpoint).
    assert "/api/1/listings/{id}/reviews/" not in v1["paths"]
    assert "/api/2/listings/{id}/reviews/" in v2["paths"]
    assert "/api/2/listings/{id}/stats/" in v2["paths"]
    assert "/api/3/listings/{id}/stats/" not in v3["paths"]
    # Without a version the default (3) is documented.
    assert "/api/3/listings/" in generate()["paths"]


def test_deprecated_version_operations_and_headers() -> None:
    schema = generate("1")
    op = operation(schema, "/api/1/ping/")
    assert op["deprecated"] is True
    headers = op["responses"]["200"]["headers"]
    assert headers["API-Version"]["schema"]["enum"] == ["1"]
    assert headers["Deprecation"]["schema"]["example"].startswith("@")
    assert headers["Sunset"]["schema"]["example"] == "Tue, 30 Jun 2099 00:00:00 GMT"
    assert "deprecation" in headers["Link"]["description"]
    sunset = op["responses"]["410"]
    assert sunset["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/VersionSunsetProblem"
    }
    assert problem_types(sunset) == {"/problems/version-sunset"}
    assert "deprecated" not in operation(generate("2"), "/api/2/ping/")
    assert "410" not in operation(generate("2"), "/api/2/ping/")["responses"]


def test_version_problems_on_every_versioned_operation() -> None:
    schema = generate("2")
    for path, methods in schema["paths"].items():
        if path.startswith("/api/2/") and path != "/api/2/custom/":  # custom declares its own 406
            for op in methods.values():
                assert "404" in op["responses"], path
                assert problem_types(op["responses"]["406"]) == {"/problems/unsupported-version"}
    assert schema["components"]["schemas"]["UnsupportedVersionProblem"]["allOf"][0] == {
        "$ref": "#/components/schemas/Problem"
    }
    # Header-versioned routes: no 404 for the version, and the header is a parameter.
    op = operation(schema, "/hdr/profile/")
    assert "404" not in op["responses"]
    [header] = [p for p in op["parameters"] if p["in"] == "header"]
    assert header["name"] == "X-API-Version"
    assert header["schema"]["enum"] == ["2"]
    assert header["required"] is True
    default_op = operation(generate("3"), "/hdr/profile/")
    assert next(p for p in default_op["parameters"] if p["in"] == "header")["required"] is False


def test_validation_problems_on_operations_with_a_body() -> None:
    schema = generate("3")
    create = operation(schema, "/api/3/listings/", "post")
    response = create["responses"]["400"]
    assert response["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/ValidationProblem"
    }
    assert problem_types(response) == {"/problems/validation-error"}
    assert "X-Request-ID" in response["headers"]
    assert response["headers"]["API-Version"]["schema"]["enum"] == ["3"]
    assert "400" in operation(schema, "/api/3/listings/{id}/", "patch")["responses"]
    assert "400" not in operation(schema, "/api/3/listings/{id}/", "get")["responses"]
    unversioned = operation(schema, "/unversioned/", "post")["responses"]
    assert problem_types(unversioned["400"]) == {"/problems/validation-error"}
    assert "API-Version" not in unversioned["400"]["headers"]
    assert "406" not in unversioned


@override_settings(NEXUS_API={"VERSIONS": VERSIONS, "DEFAULT_VERSION": "3", "VALIDATION_ERROR_STATUS": 422})
def test_validation_status_follows_the_setting() -> None:
    responses = operation(generate("3"), "/api/3/listings/", "post")["responses"]
    assert "422" in responses
    assert "400" not in responses


def test_pagination_problems_and_link_header() -> None:
    schema = generate("3")
    feed = operation(schema, "/api/3/feed/")
    assert problem_types(feed["responses"]["400"]) == {"/problems/invalid-cursor"}
    assert 'rel="next"' in feed["responses"]["200"]["headers"]["Link"]["description"]
    params = {p["name"] for p in feed["parameters"]}
    assert {"cursor", "page_size"} <= params
    pages = operation(schema, "/api/3/review-pages/")
    assert problem_types(pages["responses"]["400"]) == {"/problems/page-too-deep"}
    assert "Link" in pages["responses"]["200"]["headers"]
    throttled = pages["responses"]["429"]
    assert problem_types(throttled) == {"/problems/throttled"}
    assert "Retry-After" in throttled["headers"]
    # DRF's own PageNumberPagination (router listings) sends no Link header.
    assert "Link" not in operation(schema, "/api/3/listings/")["responses"]["200"].get("headers", {})


def test_deprecated_pagination_link_mentions_both() -> None:
    feed = operation(generate("1"), "/api/1/feed/")
    assert "deprecation link" in feed["responses"]["200"]["headers"]["Link"]["description"]


def test_explicit_responses_win() -> None:
    responses = operation(generate("2"), "/api/2/custom/", "post")["responses"]
    assert responses["406"]["description"] == "Declared by hand."
    assert "content" not in responses["406"]
    assert "400" in responses


def test_schema_view_serves_one_schema_per_version() -> None:
    api = APIClient()
    v1 = api.get("/schema/?version=1", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert v1.status_code == 200, v1.content
    assert "/api/1/listings/" in v1.json()["paths"]
    default = api.get("/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert "/api/3/listings/" in default.json()["paths"]


def test_schema_view_under_nexus_versioning_honours_the_version_parameter() -> None:
    api = APIClient()
    v2 = api.get("/schema-nexus/?version=2", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert "/api/2/listings/" in v2.json()["paths"]
    assert "API-Version" not in v2
    v1 = api.get("/schema-nexus/", HTTP_ACCEPT="application/vnd.oai.openapi+json", HTTP_X_API_VERSION="1")
    assert v1["API-Version"] == "1"
    assert "/api/1/listings/" in v1.json()["paths"]


@override_settings(NEXUS_API={"VERSIONS": {"1": {"sunset": "2020-01-01"}, "2": {}}, "DEFAULT_VERSION": "2"})
def test_retired_version_has_no_operations() -> None:
    assert not any(path.startswith("/api/") for path in generate("1")["paths"])


def test_importing_nexus_api_does_not_import_spectacular() -> None:
    code = (
        "import sys, nexus_api, nexus_api.errors, nexus_api.versioning, nexus_api.middleware; "
        "assert 'drf_spectacular' not in sys.modules, 'spectacular imported'; "
        "assert 'graphene' not in sys.modules, 'graphene imported'"
    )
    env_settings = "-c"
    result = subprocess.run(
        [
            sys.executable,
            env_settings,
            f"import django; from django.conf import settings; settings.configure(); {code}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
