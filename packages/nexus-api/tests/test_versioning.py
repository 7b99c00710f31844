"""NexusVersioning through real DRF views (tests/urls_versioning.py): sources, refusal of
unknown and retired versions, lifecycle headers, reverse(), per-version serializers."""

from __future__ import annotations

import datetime as dt
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import RequestFactory, override_settings
from rest_framework.test import APIClient, APIRequestFactory

from nexus_api.errors import PROBLEM_CONTENT_TYPE
from nexus_api.versioning import (
    NexusVersioning,
    ResolvedVersion,
    apply_version_headers,
    get_resolved_version,
    get_versions,
    resolve_request_version,
    serializer_for_version,
)
from nexus_api.versioning._versions import parse_moment

pytestmark = pytest.mark.urls("tests.urls_versioning")

VERSIONS = {
    "0": {"deprecated": "2020-01-01", "sunset": "2021-01-01", "link": "https://docs.example.com/v0"},
    "1": {"deprecated": "2025-01-01", "sunset": "2099-06-30", "link": "https://docs.example.com/v1"},
    "2": {},
    "3": {},
}


@pytest.fixture(autouse=True)
def versions(settings: Any) -> None:
    settings.NEXUS_API = {"VERSIONS": VERSIONS, "DEFAULT_VERSION": "3"}


@pytest.fixture
def client() -> APIClient:
    return APIClient()


def test_url_version_and_api_version_header(client: APIClient) -> None:
    response = client.get("/api/2/ping/")
    assert response.status_code == 200
    assert response.json()["version"] == "2"
    assert response["API-Version"] == "2"
    assert "Deprecation" not in response
    assert "Sunset" not in response
    # The URL alone decided: nothing to vary on.
    assert "X-API-Version" not in response.get("Vary", "")


def test_v_prefix_in_url_is_accepted_and_kept_in_links(client: APIClient) -> None:
    response = client.get("/api/v2/ping/")
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == "2"
    assert body["self"] == "http://testserver/api/v2/ping/"
    assert body["listings"] == "http://testserver/api/v2/listings/"


def test_unknown_url_version_is_404_problem_listing_supported(client: APIClient) -> None:
    response = client.get("/api/9/ping/")
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    body = response.json()
    assert body["type"].endswith("unsupported-version")
    assert body["supported_versions"] == ["1", "2", "3"]
    assert "1, 2, 3" in body["detail"]
    assert "API-Version" not in response


def test_header_version(client: APIClient) -> None:
    response = client.get("/hdr/profile/", HTTP_X_API_VERSION="1")
    assert response.status_code == 200
    assert response["API-Version"] == "1"
    vary = [v.strip() for v in response["Vary"].split(",")]
    assert "Accept" in vary
    assert "X-API-Version" in vary


def test_accept_parameter_version(client: APIClient) -> None:
    response = client.get("/hdr/profile/", HTTP_ACCEPT="application/json; version=2")
    assert response.status_code == 200
    assert response["API-Version"] == "2"
    assert response.json() == {"serializer": "ProfileV1"}


def test_default_version_varies_on_the_headers(client: APIClient) -> None:
    response = client.get("/hdr/profile/")
    assert response["API-Version"] == "3"
    assert {"Accept", "X-API-Version"} <= {v.strip() for v in response["Vary"].split(",")}


@pytest.mark.parametrize(
    "headers",
    [{"HTTP_X_API_VERSION": "7"}, {"HTTP_ACCEPT": "application/json; version=7"}],
)
def test_unknown_header_version_is_406_problem(client: APIClient, headers: dict[str, str]) -> None:
    response = client.get("/hdr/profile/", **headers)
    assert response.status_code == 406
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert response.json()["supported_versions"] == ["1", "2", "3"]
    # Vary names the header sources consulted up to the one that answered.
    expected = "X-API-Version" if "HTTP_X_API_VERSION" in headers else "Accept"
    assert expected in response["Vary"]


def test_deprecated_version_headers(client: APIClient) -> None:
    response = client.get("/api/1/ping/")
    assert response.status_code == 200
    deprecated = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    assert response["Deprecation"] == f"@{int(deprecated.timestamp())}"
    assert parsedate_to_datetime(response["Sunset"]) == dt.datetime(2099, 6, 30, tzinfo=dt.UTC)
    assert response["Sunset"] == "Tue, 30 Jun 2099 00:00:00 GMT"
    assert response["Link"] == '<https://docs.example.com/v1>; rel="deprecation"; type="text/html"'


@pytest.mark.django_db
def test_headers_are_on_error_responses_too(client: APIClient) -> None:
    response = client.get("/api/1/listings/999999/")
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert response["API-Version"] == "1"
    assert response["Deprecation"].startswith("@")
    assert "Sunset" in response


def test_sunset_version_is_410(client: APIClient) -> None:
    response = client.get("/api/0/ping/")
    assert response.status_code == 410
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    body = response.json()
    assert body["type"].endswith("version-sunset")
    assert body["sunset"] == "2021-01-01"
    assert body["supported_versions"] == ["1", "2", "3"]
    assert response["API-Version"] == "0"
    assert response["Sunset"] == "Fri, 01 Jan 2021 00:00:00 GMT"


def test_sunset_enforcement_can_be_turned_off(client: APIClient, settings: Any) -> None:
    settings.NEXUS_API = {"VERSIONS": VERSIONS, "DEFAULT_VERSION": "3", "ENFORCE_SUNSET": False}
    response = client.get("/api/0/ping/")
    assert response.status_code == 200
    assert response["Sunset"] == "Fri, 01 Jan 2021 00:00:00 GMT"
    assert get_versions().supported() == ["0", "1", "2", "3"]


def test_source_order_is_configurable(client: APIClient, settings: Any) -> None:
    settings.NEXUS_API = {
        "VERSIONS": VERSIONS,
        "DEFAULT_VERSION": "3",
        "VERSION_SOURCES": ["header", "url"],
    }
    response = client.get("/api/2/ping/", HTTP_X_API_VERSION="1")
    assert response.json()["version"] == "1"
    # The header won, so it must be in Vary; Accept was never consulted.
    vary = {v.strip() for v in response["Vary"].split(",")}
    assert "X-API-Version" in vary
    response = client.get("/api/2/ping/", HTTP_ACCEPT="application/json; version=1")
    assert response.json()["version"] == "2"


def test_query_source_and_custom_header(client: APIClient, settings: Any) -> None:
    settings.NEXUS_API = {
        "VERSIONS": VERSIONS,
        "DEFAULT_VERSION": "3",
        "VERSION_SOURCES": ["query", "header"],
        "VERSION_HEADER": "Stripe-Version",
    }
    assert client.get("/hdr/profile/?version=1")["API-Version"] == "1"
    assert client.get("/hdr/profile/?version=9").status_code == 404
    response = client.get("/hdr/profile/", HTTP_STRIPE_VERSION="2")
    assert response["API-Version"] == "2"
    assert "Stripe-Version" in response["Vary"]


def test_paginator_link_header_is_kept_next_to_deprecation_link(client: APIClient, db: None) -> None:
    from tests.versioning_models import VHost, VListing

    host = VHost.objects.create(display_name="h")
    VListing.objects.bulk_create(VListing(name=f"l{i}", host=host) for i in range(3))
    response = client.get("/api/1/listings/")
    assert response.status_code == 200
    links = response["Link"]
    assert 'rel="next"' in links
    assert 'rel="deprecation"' in links


def test_versioned_serializer_falls_back_to_closest_lower(client: APIClient) -> None:
    assert client.get("/api/1/profile/").json() == {"serializer": "ProfileV1"}
    assert client.get("/api/2/profile/").json() == {"serializer": "ProfileV1"}
    assert client.get("/api/3/profile/").json() == {"serializer": "ProfileV3"}
    response = client.post("/api/3/profile/", {"username": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"handle": ["This field is required."]}


def test_versioned_serializer_without_lower_entry() -> None:
    from django.core.exceptions import ImproperlyConfigured

    from tests.urls_versioning import ProfileV3, ProfileView

    assert serializer_for_version({"2": ProfileV3}, "3") is ProfileV3
    assert serializer_for_version({"2": ProfileV3}, "1") is None
    assert serializer_for_version({"x": ProfileV3}, "x") is ProfileV3
    assert serializer_for_version({}, None) is None

    view = ProfileView()
    view.serializer_classes = {"3": ProfileV3}
    view.request = APIRequestFactory().get("/")  # type: ignore[assignment]
    view.request.version = "1"  # type: ignore[union-attr]
    with pytest.raises(ImproperlyConfigured, match="no entry for API version '1'"):
        view.get_serializer_class()
    view.serializer_class = ProfileV3
    assert view.get_serializer_class() is ProfileV3
    view.serializer_classes = {}
    assert view.get_serializer_class() is ProfileV3


@pytest.fixture
def middleware(settings: Any) -> None:
    settings.MIDDLEWARE = [
        "nexus_api.middleware.VersionHeadersMiddleware",
        "django.middleware.http.ConditionalGetMiddleware",
    ]


@pytest.mark.urls("tests.urls_versioning_middleware")
@pytest.mark.usefixtures("middleware")
def test_middleware_restores_headers_on_304(client: APIClient) -> None:
    first = client.get("/api/1/ping/")
    assert first.status_code == 200
    etag = first["ETag"]
    response = client.get("/api/1/ping/", HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert response["API-Version"] == "1"
    assert response["Deprecation"].startswith("@")
    assert 'rel="deprecation"' in response["Link"]


@pytest.mark.urls("tests.urls_versioning_middleware")
@pytest.mark.usefixtures("middleware")
def test_middleware_resolves_when_the_view_never_ran(client: APIClient) -> None:
    # The "cached" view answers before DRF's initial(); the middleware resolves itself.
    response = client.get("/api/1/cached/")
    assert response.status_code == 200
    assert response["API-Version"] == "1"
    assert client.get("/hdr/cached/", HTTP_X_API_VERSION="2")["API-Version"] == "2"
    # Unknown versions and non-DRF views are left alone.
    assert "API-Version" not in client.get("/api/9/cached/")
    assert "API-Version" not in client.get("/plain/")


def test_resolve_without_drf() -> None:
    request = RequestFactory().get("/", HTTP_ACCEPT="text/html;q=0.9, application/json; version=1")
    resolved = resolve_request_version(request, {})
    assert resolved.version is not None
    assert resolved.version.name == "1"
    assert resolved.source == "accept"
    request = RequestFactory().get("/", HTTP_ACCEPT='application/json; version="2"; x')
    assert resolve_request_version(request).raw in {"2", None}


def test_apply_headers_is_idempotent() -> None:
    response = HttpResponse()
    response["Link"] = '<https://x/?page=2>; rel="next"'
    resolved = ResolvedVersion(get_versions()["1"], "header", "1", ("X-API-Version",))
    apply_version_headers(response, resolved)
    apply_version_headers(response, resolved)
    assert response["Link"].count('rel="deprecation"') == 1
    assert response["Link"].startswith('<https://x/?page=2>; rel="next", ')
    assert response["Vary"] == "X-API-Version"
    assert ResolvedVersion(None, "url").headers() == {}


def test_determine_version_without_a_view() -> None:
    request = APIRequestFactory().get("/", HTTP_X_API_VERSION="v2")
    from rest_framework.request import Request

    drf_request = Request(request)
    assert NexusVersioning().determine_version(drf_request) == "2"
    resolved = get_resolved_version(drf_request)
    assert resolved is not None
    assert resolved.raw == "v2"


def test_only_sunset_with_link_uses_sunset_relation(settings: Any) -> None:
    settings.NEXUS_API = {"VERSIONS": {"1": {"sunset": "2099-01-01", "link": "https://x"}}}
    headers = get_versions()["1"].headers()
    assert "Deprecation" not in headers
    assert headers["Link"] == '<https://x>; rel="sunset"; type="text/html"'


def test_versions_parsing_edge_cases(settings: Any) -> None:
    settings.NEXUS_API = {"VERSIONS": {}, "DEFAULT_VERSION": "5"}
    assert get_versions().names == ["5"]
    settings.NEXUS_API = {"VERSIONS": {"a": {"deprecated": "garbage"}, "b": None}, "DEFAULT_VERSION": "zz"}
    versions = get_versions()
    assert versions.default.name == "b"
    assert versions["a"].deprecated is None
    assert versions.latest.name == "b"
    assert versions.get("") is None
    assert [v.name for v in versions] == ["a", "b"]


def test_parse_moment_forms() -> None:
    assert parse_moment("2026-01-01") == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert parse_moment("2026-01-01T12:00:00Z") == dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    assert parse_moment(dt.date(2026, 1, 2)) == dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    aware = dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert parse_moment(aware) == aware
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_moment("01/02/2026")
    with pytest.raises(ValueError, match="not a date"):
        parse_moment(20260101)


@override_settings(NEXUS_API={"VERSIONS": {"1": {}}, "DEFAULT_VERSION": "1"})
def test_describe() -> None:
    assert get_versions()["1"].describe() == ""


def test_public_names_are_lazily_exported() -> None:
    import nexus_api
    from nexus_api.errors import problem_exception_handler
    from nexus_api.versioning import NexusVersioning as Direct

    assert nexus_api.NexusVersioning is Direct
    assert nexus_api.problem_exception_handler is problem_exception_handler
    assert {"VersionChange", "VersionedSerializerMixin", "ProblemException"} <= set(dir(nexus_api))


def test_304_from_inside_drf_carries_the_headers_without_middleware(client: APIClient) -> None:
    response = client.get("/api/1/conditional/", HTTP_IF_NONE_MATCH='"v"')
    assert response.status_code == 304
    assert response["API-Version"] == "1"
    assert response["Deprecation"].startswith("@")
    assert 'rel="deprecation"' in response["Link"]
