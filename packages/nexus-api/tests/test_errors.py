"""RFC 9457 problem details through real DRF views (tests/urls_errors.py)."""

from __future__ import annotations

import logging
import random
from typing import Any

import pytest
from django.core.signals import got_request_exception
from django.test import override_settings
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory

from nexus_api.errors import (
    PROBLEM_CONTENT_TYPE,
    ProblemException,
    ProblemJSONRenderer,
    get_request_id,
    problem_exception_handler,
    problem_type_uri,
)

pytestmark = pytest.mark.urls("tests.urls_errors")


@pytest.fixture
def client() -> APIClient:
    return APIClient()


def problem(response: Any) -> dict[str, Any]:
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE, response.content
    body: dict[str, Any] = response.json()
    assert body["status"] == response.status_code
    for member in ("type", "title", "detail", "instance", "request_id", "code"):
        assert member in body, member
    assert "Traceback" not in response.content.decode()
    return body


@pytest.mark.parametrize(
    ("kind", "status", "type_slug", "title"),
    [
        ("drf-not-found", 404, "not-found", "Not found"),
        ("http404", 404, "not-found", "Not found"),
        ("django-permission", 403, "permission-denied", "You do not have permission to perform this action"),
        ("drf-permission", 403, "permission-denied", "You do not have permission to perform this action"),
        ("invalid-cursor", 400, "invalid-cursor", "Invalid cursor"),
        ("suspicious", 400, "bad-request", "Malformed request"),
        ("bare-api", 500, "server-error", "Internal Server Error"),
        ("custom-code", 404, "listing-missing", "Not found"),
    ],
)
def test_each_error_has_a_stable_type_and_title(
    client: APIClient, kind: str, status: int, type_slug: str, title: str
) -> None:
    response = client.get(f"/raise/{kind}/")
    assert response.status_code == status
    body = problem(response)
    assert body["type"] == f"/problems/{type_slug}"
    assert body["title"] == title
    assert body["instance"] == f"/raise/{kind}/"


def test_problem_json_even_when_the_client_accepts_only_json(client: APIClient) -> None:
    response = client.get("/raise/invalid-cursor/", HTTP_ACCEPT="application/json")
    body = problem(response)
    assert body["type"].endswith("invalid-cursor")
    assert body["detail"] == "The cursor was tampered with."
    assert body["code"] == "invalid_cursor"


def test_failed_content_negotiation_is_a_406_problem(client: APIClient) -> None:
    response = client.get("/raise/drf-not-found/", HTTP_ACCEPT="text/csv")
    assert response.status_code == 406
    assert problem(response)["type"] == "/problems/not-acceptable"


def test_browsable_api_keeps_rendering_html_for_browsers(client: APIClient) -> None:
    response = client.get("/browsable/drf-not-found/", HTTP_ACCEPT="text/html")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert b"not-found" in response.content
    response = client.get("/browsable/drf-not-found/", HTTP_ACCEPT="application/json")
    assert problem(response)["type"] == "/problems/not-found"


@override_settings(NEXUS_API={"PROBLEM_TYPE_BASE": "https://api.example.com/errors/"})
def test_type_base_is_a_setting(client: APIClient) -> None:
    body = problem(client.get("/raise/invalid-cursor/"))
    assert body["type"] == "https://api.example.com/errors/invalid-cursor"


def test_absolute_problem_type_is_kept(client: APIClient) -> None:
    assert problem(client.get("/raise/absolute/"))["type"] == "https://errors.example.com/absolute"


def test_problem_exception_carries_extensions_and_headers(client: APIClient) -> None:
    response = client.get("/raise/out-of-stock/")
    assert response.status_code == 409
    assert response["X-Stock"] == "2"
    body = problem(response)
    assert body["type"] == "/problems/out-of-stock"
    assert body["title"] == "Out of stock"
    assert body["detail"] == "Only 2 left."
    assert body["available"] == 2


def test_problem_exception_refuses_to_overwrite_standard_members() -> None:
    with pytest.raises(ValueError, match="status"):
        ProblemException(status=418)


def test_problem_exception_defaults() -> None:
    exc = ProblemException()
    assert exc.status_code == 400
    assert exc.extensions == {}
    assert exc.headers == {}
    assert problem_type_uri(exc.default_code) == "/problems/bad-request"


def test_validation_errors_per_field_nested_and_non_field(client: APIClient) -> None:
    response = client.post("/bookings/", {"name": "toolong", "nights": 0, "address": {}}, format="json")
    assert response.status_code == 400
    body = problem(response)
    assert body["type"] == "/problems/validation-error"
    assert body["title"] == "Invalid input"
    assert body["errors"] == {
        "name": ["Ensure this field has no more than 5 characters."],
        "nights": ["Ensure this value is greater than or equal to 1."],
        "address": {"city": ["This field is required."]},
    }
    assert body["detail"] == "Invalid input in 3 fields: name, nights, address."

    response = client.post(
        "/bookings/", {"name": "bad", "nights": 1, "address": {"city": "x"}}, format="json"
    )
    body = problem(response)
    assert body["errors"] == {"non_field_errors": ["Bad name and nights combination."]}
    assert body["detail"] == "Bad name and nights combination."


@override_settings(NEXUS_API={"VALIDATION_ERROR_STATUS": 422})
def test_validation_status_can_be_422(client: APIClient) -> None:
    response = client.post("/bookings/", {}, format="json")
    assert response.status_code == 422
    assert problem(response)["errors"]["nights"] == ["This field is required."]


def test_validation_error_with_a_list_is_non_field(client: APIClient) -> None:
    body = problem(client.get("/raise/validation-list/"))
    assert body["errors"] == {"non_field_errors": ["first problem", "second problem"]}
    assert body["detail"] == "first problem"


def test_django_validation_error_is_a_client_error(client: APIClient) -> None:
    response = client.get("/raise/django-validation/")
    assert response.status_code == 400
    body = problem(response)
    assert body["errors"] == {"email": ["Enter a valid email address."]}
    assert body["detail"] == "Invalid input in 1 field: email."


def test_non_validation_error_with_structured_detail(client: APIClient) -> None:
    body = problem(client.get("/raise/dict-detail/"))
    assert body["errors"] == {"thing": ["broken"]}
    assert body["detail"] == body["title"] == "Internal Server Error"


def test_suspicious_operation_message_is_not_shown(client: APIClient) -> None:
    body = problem(client.get("/raise/suspicious/"))
    assert "secret" not in str(body)


def test_malformed_json_is_a_parse_error_problem(client: APIClient) -> None:
    response = client.post("/bookings/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert problem(response)["type"] == "/problems/parse-error"


def test_method_not_allowed_and_unsupported_media_type(client: APIClient) -> None:
    response = client.get("/bookings/")
    assert response.status_code == 405
    assert problem(response)["type"] == "/problems/method-not-allowed"
    response = client.post("/bookings/", "x", content_type="text/csv")
    assert response.status_code == 415
    assert problem(response)["type"] == "/problems/unsupported-media-type"


def test_throttled_explicit_wait(client: APIClient) -> None:
    response = client.get("/raise/throttled/")
    assert response.status_code == 429
    assert response["Retry-After"] == "30"
    body = problem(response)
    assert body["type"] == "/problems/throttled"
    assert body["retry_after"] == 30


def test_real_throttle_sets_retry_after(client: APIClient) -> None:
    address = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
    assert client.get("/throttled/", REMOTE_ADDR=address).status_code == 200
    response = client.get("/throttled/", REMOTE_ADDR=address)
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert problem(response)["retry_after"] == int(response["Retry-After"])


def test_authentication_challenge_kept(client: APIClient) -> None:
    response = client.get("/private/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    assert problem(response)["type"] == "/problems/not-authenticated"
    response = client.get("/private-no-challenge/")
    assert response.status_code == 403
    assert problem(response)["type"] == "/problems/not-authenticated"


def test_request_id_is_echoed_from_the_header(client: APIClient) -> None:
    response = client.get("/raise/drf-not-found/", HTTP_X_REQUEST_ID="req-123")
    assert response["X-Request-ID"] == "req-123"
    assert problem(response)["request_id"] == "req-123"


@pytest.mark.parametrize("supplied", ["", "has space", "x" * 201, "new\nline"])
def test_malformed_request_id_is_replaced(client: APIClient, supplied: str) -> None:
    response = client.get("/raise/drf-not-found/", HTTP_X_REQUEST_ID=supplied)
    body = problem(response)
    assert body["request_id"] != supplied
    assert len(body["request_id"]) == 32
    assert response["X-Request-ID"] == body["request_id"]


@override_settings(NEXUS_API={"REQUEST_ID_HEADER": "X-Correlation-ID"})
def test_request_id_header_is_a_setting(client: APIClient) -> None:
    response = client.get("/raise/drf-not-found/", HTTP_X_CORRELATION_ID="abc", HTTP_X_REQUEST_ID="zzz")
    assert problem(response)["request_id"] == "abc"
    assert response["X-Correlation-ID"] == "abc"


@override_settings(NEXUS_API={"REQUEST_ID_HEADER": ""})
def test_request_id_header_can_be_disabled(client: APIClient) -> None:
    response = client.get("/raise/drf-not-found/", HTTP_X_REQUEST_ID="abc")
    assert problem(response)["request_id"] != "abc"
    assert "X-Request-ID" not in response


def test_request_id_is_stable_within_a_request() -> None:
    request = APIRequestFactory().get("/")
    assert get_request_id(request) == get_request_id(request)
    assert len(get_request_id(None)) == 32


def test_unexpected_exception_is_a_generic_logged_500(caplog: pytest.LogCaptureFixture) -> None:
    client = APIClient(raise_request_exception=False)
    signalled: list[object] = []

    def receiver(sender: object, request: object, **kwargs: object) -> None:
        signalled.append(request)

    got_request_exception.connect(receiver)
    try:
        with caplog.at_level(logging.ERROR, logger="nexus_api.errors"):
            response = client.get("/raise/unexpected/", HTTP_X_REQUEST_ID="boom-1")
    finally:
        got_request_exception.disconnect(receiver)
    assert response.status_code == 500
    body = problem(response)
    assert body["type"] == "/problems/server-error"
    assert body["title"] == "Internal Server Error"
    assert "hunter2" not in response.content.decode()
    assert "RuntimeError" not in response.content.decode()
    [record] = [r for r in caplog.records if r.name == "nexus_api.errors"]
    assert "boom-1" in record.getMessage()
    assert record.exc_info is not None
    assert len(signalled) == 1


def test_unexpected_exception_is_raised_by_the_test_client(client: APIClient) -> None:
    # Error trackers and Django's test client see it through got_request_exception.
    with pytest.raises(RuntimeError, match="hunter2"):
        client.get("/raise/unexpected/")


def test_handler_without_a_request() -> None:
    response = problem_exception_handler(NotFound(), {})
    assert isinstance(response, Response)
    assert response.status_code == 404
    assert response.data["type"] == "/problems/not-found"
    assert "instance" not in response.data
    assert response.content_type == PROBLEM_CONTENT_TYPE


def test_renderer_media_type() -> None:
    assert ProblemJSONRenderer.media_type == PROBLEM_CONTENT_TYPE
    assert ProblemJSONRenderer().render({"a": 1}) == b'{"a":1}'


def test_validation_subclass_code_and_api_exception_detail() -> None:
    class Conflict(ValidationError):
        default_code = "conflict"

    response = problem_exception_handler(Conflict({"a": ["b"]}), {})
    assert response.data["type"] == "/problems/conflict"
    response = problem_exception_handler(APIException("x", code=""), {})
    assert response.data["type"] == "/problems/server-error"


@pytest.mark.parametrize(
    ("path", "status", "slug"),
    [
        ("/no/such/url/", 404, "not-found"),
        ("/django/missing/", 404, "not-found"),
        ("/django/denied/", 403, "permission-denied"),
        ("/django/suspicious/", 400, "bad-request"),
        ("/django/crash/", 500, "server-error"),
    ],
)
def test_errors_outside_drf_through_the_urlconf_handlers(path: str, status: int, slug: str) -> None:
    client = APIClient(raise_request_exception=False)
    response = client.get(path, HTTP_ACCEPT="application/json", HTTP_X_REQUEST_ID="outside-1")
    assert response.status_code == status
    body = problem(response)
    assert body["type"] == f"/problems/{slug}"
    assert body["request_id"] == "outside-1"
    assert response["X-Request-ID"] == "outside-1"
    assert "secret" not in response.content.decode()
    assert "hunter2" not in response.content.decode()


def test_browsers_get_djangos_pages_outside_drf() -> None:
    client = APIClient(raise_request_exception=False)
    response = client.get("/no/such/url/", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert client.get("/django/ok/").content == b"ok"
