"""The public contract of DESIGN.md ("nexus-api") and issue 5, as an outside project sees it.

Only the public names are imported from nexus-api; the views, URLs and GraphQL schema are
written here the way a Django project would write them. Each test pins one observable
behaviour, so that a renamed or missing public behaviour fails here first.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import graphene
import pytest
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.management import call_command
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.urls import path
from graphene_django import DjangoObjectType
from rest_framework import exceptions, generics, serializers
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from nexus_api.errors import problem_exception_handler
from nexus_api.graphql import KeysetConnectionField
from nexus_api.pagination import KeysetPagination, PageNumberPagination
from nexus_api.versioning import NexusVersioning, VersionChange, VersionedSerializerMixin

from tests.keyset_models import KsHost, KsItem, KsOrdered

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

PROBLEM = "application/problem+json"
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
VERSIONS = {
    "0": {"deprecated": "2020-01-01", "sunset": "2021-01-01", "link": "https://docs.example.com/v0"},
    "1": {"deprecated": "2025-01-01", "sunset": "2099-06-30", "link": "https://docs.example.com/v1"},
    "2": {},
    "3": {},
}
SERVED = ["1", "2", "3"]


# -- The project under test -------------------------------------------------------------------


class ItemSerializer(serializers.ModelSerializer[KsItem]):
    class Meta:
        model = KsItem
        fields = ["id", "name", "rank", "created_at"]


class ContractOrderedSerializer(serializers.ModelSerializer[KsOrdered]):
    class Meta:
        model = KsOrdered
        fields = ["id", "title", "position"]


class Keyset(KeysetPagination):
    page_size = 3
    max_page_size = 10


def keyset_with(policy: str) -> type[KeysetPagination]:
    return type(f"Keyset{policy.title()}", (Keyset,), {"count_policy": policy})


class Items(generics.ListAPIView[KsItem]):
    serializer_class = ItemSerializer
    pagination_class = Keyset
    ordering = ("-created_at",)
    ordering_fields = ("name", "rank", "created_at")

    def get_queryset(self) -> Any:
        name = self.request.query_params.get("name")
        queryset = KsItem.objects.all()
        return queryset.filter(name=name) if name else queryset


class ItemsByName(Items):
    ordering = ("name",)


class Ordered(generics.ListAPIView[KsOrdered]):
    """No ``ordering`` on the view: the model's ``Meta.ordering`` applies."""

    queryset = KsOrdered.objects.all()
    serializer_class = ContractOrderedSerializer
    pagination_class = Keyset


class Pages(PageNumberPagination):
    page_size = 2
    max_page = 3


class PagedItems(generics.ListAPIView[KsItem]):
    queryset = KsItem.objects.order_by("name", "id")
    serializer_class = ItemSerializer
    pagination_class = Pages


class DefaultSized(Items):
    pagination_class = KeysetPagination


class DefaultSizedPages(PagedItems):
    pagination_class = PageNumberPagination


class ProfileV1(serializers.Serializer[Any]):
    title = serializers.CharField(source="name")


class ProfileV2(serializers.Serializer[Any]):
    name = serializers.CharField()


class Profile(VersionedSerializerMixin, generics.GenericAPIView[Any]):
    versioning_class = NexusVersioning
    serializer_classes = {"1": ProfileV1, "2": ProfileV2}

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response({"version": request.version, **self.get_serializer({"name": "Ada"}).data})


class TitleIsName(VersionChange):
    version = "2"
    description = "Contract: `title` is called `name`."

    def upgrade_request(self, data: Any, context: Any) -> Any:
        data = dict(data)
        if "title" in data:
            data["name"] = data.pop("title")
        return data

    def downgrade_response(self, data: Any, context: Any) -> Any:
        data = dict(data)
        if "name" in data:
            data["title"] = data.pop("name")
        return data


class NameIsLabelAndPriceInCents(VersionChange):
    version = "3"
    description = "Contract: `name` is called `label`; `price` (a decimal string) is `price_cents`."

    def upgrade_request(self, data: Any, context: Any) -> Any:
        data = dict(data)
        if "name" in data:
            data["label"] = data.pop("name")
        if "price" in data:
            data["price_cents"] = round(float(data.pop("price")) * 100)
        return data

    def downgrade_response(self, data: Any, context: Any) -> Any:
        data = dict(data)
        if "label" in data:
            data["name"] = data.pop("label")
        if "price_cents" in data:
            data["price"] = f"{data.pop('price_cents') / 100:.2f}"
        return data


class Echo(APIView):
    """Written for the newest version only: it reads and writes ``label`` and ``price_cents``."""

    versioning_class = NexusVersioning
    version_changes = [TitleIsName, NameIsLabelAndPriceInCents]

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = request.data
        return Response({"label": data["label"], "price_cents": data["price_cents"], "seen": sorted(data)})


class ShortNames(VersionChange):
    """Contract: `headline` is called `summary`."""

    version = "3"

    def request(self, data: Any) -> None:
        if "headline" in data:
            data["summary"] = data.pop("headline")

    def response(self, data: Any) -> None:
        if "summary" in data:
            data["headline"] = data.pop("summary")


class Summary(APIView):
    versioning_class = NexusVersioning
    version_changes = [ShortNames]

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response({"summary": request.data["summary"].upper()})


class Boom(APIView):
    """Raises what ``?kind=`` names."""

    throttle_classes: list[Any] = []

    def get(self, request: Request) -> Response:
        kind = request.query_params["kind"]
        if kind == "drf":
            raise exceptions.NotFound("No such listing.")
        if kind == "http404":
            raise Http404("gone")
        if kind == "permission":
            raise DjangoPermissionDenied
        if kind == "throttled":
            raise exceptions.Throttled(wait=42)
        if kind == "validation":

            class Form(serializers.Serializer[Any]):
                email = serializers.EmailField()
                age = serializers.IntegerField(min_value=18)

            Form(data={"email": "nope", "age": 3}).is_valid(raise_exception=True)
        raise RuntimeError("database password is hunter2")


class VersionedItems(Items):
    versioning_class = NexusVersioning


urlpatterns = [
    path("c/items/", Items.as_view()),
    path("c/items/by-name/", ItemsByName.as_view()),
    path("c/ordered/", Ordered.as_view()),
    *(
        path(
            f"c/items/{policy}/",
            type(f"Items{policy}", (Items,), {"pagination_class": keyset_with(policy)}).as_view(),
        )
        for policy in ("none", "exact", "estimate", "cached")
    ),
    path("c/pages/", PagedItems.as_view()),
    path("c/items/default/", DefaultSized.as_view()),
    path("c/pages/default/", DefaultSizedPages.as_view()),
    path("c/api/<str:version>/profile/", Profile.as_view()),
    path("c/hdr/profile/", Profile.as_view()),
    path("c/api/<str:version>/echo/", Echo.as_view()),
    path("c/api/<str:version>/summary/", Summary.as_view()),
    path("c/boom/", Boom.as_view()),
    path("c/api/<str:version>/items/", VersionedItems.as_view()),
]


@pytest.fixture(autouse=True)
def project(settings: Any) -> None:
    settings.NEXUS_API = {"VERSIONS": VERSIONS, "DEFAULT_VERSION": "3"}
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "EXCEPTION_HANDLER": "nexus_api.errors.problem_exception_handler",
    }


@pytest.fixture
def client() -> APIClient:
    return APIClient()


@pytest.fixture
def items() -> list[KsItem]:
    """12 rows with ties on every ordering field and NULL ranks."""
    rows = [
        KsItem(
            name="ab"[i % 2],
            rank=None if i % 3 == 0 else i % 2,
            created_at=T0 + dt.timedelta(minutes=i // 4),
        )
        for i in range(12)
    ]
    return KsItem.objects.bulk_create(rows)


def links(response: Any) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]*)>;\s*rel="([^"]+)"', response.get("Link", ""))}


def expected(rows: list[KsItem], field: str) -> list[int]:
    """Ordering by ``field`` (``-`` descending, NULL larger than every value), then ``id``."""
    ordered = sorted(rows, key=lambda row: row.pk)
    name = field.lstrip("-")
    ordered.sort(
        key=lambda row: (getattr(row, name) is None, getattr(row, name) or 0), reverse=field.startswith("-")
    )
    return [row.pk for row in ordered]


def walk(client: APIClient, url: str, direction: str = "next") -> tuple[list[int], list[str]]:
    ids: list[int] = []
    urls: list[str] = []
    next_url: str | None = url
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200, response.content
        page = [row["id"] for row in response.json()["results"]]
        ids = ids + page if direction == "next" else page + ids
        urls.append(next_url)
        next_url = response.json()[direction]
        assert len(urls) < 50
    return ids, urls


def assert_problem(response: Any, status: int, type_suffix: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail"} <= set(body)
    if type_suffix:
        assert body["type"].endswith(type_suffix)
    return body


# -- KeysetPagination ---------------------------------------------------------------------------


def test_keyset_class_attributes() -> None:
    assert issubclass(KeysetPagination, BasePagination)
    assert KeysetPagination.page_size_query_param == "page_size"
    assert KeysetPagination.cursor_query_param == "cursor"
    assert hasattr(KeysetPagination, "page_size")
    assert hasattr(KeysetPagination, "max_page_size")


def test_keyset_body_and_link_header(client: APIClient, items: list[KsItem]) -> None:
    first = client.get("/c/items/")
    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"results", "next", "previous"}
    assert len(body["results"]) == 3
    assert body["previous"] is None
    assert set(links(first)) == {"next", "first"}
    assert links(first)["next"] == body["next"]

    second = client.get(body["next"])
    assert set(links(second)) == {"next", "prev", "first"}
    assert links(second)["prev"] == second.json()["previous"]
    assert "cursor" not in parse_qs(urlsplit(links(second)["first"]).query)


def test_ordering_from_view_and_query_parameter(client: APIClient, items: list[KsItem]) -> None:
    ids, _ = walk(client, "/c/items/")
    assert ids == expected(items, "-created_at")
    ids, _ = walk(client, "/c/items/?ordering=-rank")
    assert ids == expected(items, "-rank")
    # Only the view's ordering_fields may be used.
    assert_problem(client.get("/c/items/?ordering=uid"), 400)


def test_model_meta_ordering_is_the_fallback(client: APIClient) -> None:
    for i in range(7):
        KsOrdered.objects.create(title=f"t{i}", position=i % 3)
    ids, _ = walk(client, "/c/ordered/")
    assert ids == [o.pk for o in sorted(KsOrdered.objects.all(), key=lambda o: (-o.position, o.pk))]


@pytest.mark.parametrize("policy", ["none", "exact", "estimate", "cached"])
def test_count_policies(client: APIClient, items: list[KsItem], policy: str) -> None:
    name = f"count-{uuid.uuid4().hex[:8]}"  # a fresh query: a cached count of another test never applies
    KsItem.objects.bulk_create(KsItem(name=name, created_at=T0) for _ in range(5))
    with CaptureQueriesContext(connection) as queries:
        body = client.get(f"/c/items/{policy}/?name={name}").json()
    counted = any("COUNT(" in query["sql"].upper() for query in queries.captured_queries)
    if policy == "none":
        assert "count" not in body
        assert not counted
    else:
        assert body["count"] == 5
        assert set(body) == {"results", "next", "previous", "count"}


def test_default_page_size_from_settings(client: APIClient, items: list[KsItem], settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "PAGE_SIZE": 4}  # DRF's own setting
    assert len(client.get("/c/items/default/").json()["results"]) == 4
    assert len(client.get("/c/pages/default/").json()["results"]) == 4
    settings.NEXUS_API = {**settings.NEXUS_API, "PAGE_SIZE": 5}  # nexus-api's wins
    assert len(client.get("/c/items/default/").json()["results"]) == 5
    assert len(client.get("/c/pages/default/").json()["results"]) == 5


def test_page_size_parameter_is_capped(client: APIClient, items: list[KsItem]) -> None:
    assert len(client.get("/c/items/?page_size=2").json()["results"]) == 2
    assert len(client.get("/c/items/?page_size=1000000000").json()["results"]) == Keyset.max_page_size


@pytest.mark.parametrize("ordering", ["-created_at", "rank", "-rank"])
def test_forward_then_backward_walk_sees_every_row_once(
    client: APIClient, items: list[KsItem], ordering: str
) -> None:
    forward, urls = walk(client, f"/c/items/?ordering={ordering}&page_size=5")
    assert forward == expected(items, ordering)
    assert len(set(forward)) == len(items)
    last = client.get(urls[-1]).json()
    backward, _ = walk(client, last["previous"], direction="previous")
    assert backward + [row["id"] for row in last["results"]] == forward


def _next_cursor(client: APIClient, url: str) -> str:
    return parse_qs(urlsplit(client.get(url).json()["next"]).query)["cursor"][0]


def _tampered(token: str) -> str:
    position = len(token) // 3
    return token[:position] + ("A" if token[position] != "A" else "B") + token[position + 1 :]


@pytest.mark.parametrize(
    ("issued_on", "replayed_on", "mangle"),
    [
        ("/c/items/", "/c/items/", _tampered),
        ("/c/items/", "/c/items/", lambda token: token[: len(token) // 2]),
        ("/c/items/", "/c/items/", lambda token: "garbage!!"),
        ("/c/items/", "/c/items/", lambda token: "bm90IGEgY3Vyc29y"),
        ("/c/ordered/", "/c/items/", None),  # another model
        ("/c/items/by-name/", "/c/items/", None),  # another list
        ("/c/items/?ordering=rank", "/c/items/?ordering=name", None),
        ("/c/items/?name=a", "/c/items/?name=b", None),
    ],
)
def test_unusable_cursor_is_a_400_problem(
    client: APIClient, items: list[KsItem], issued_on: str, replayed_on: str, mangle: Any
) -> None:
    for i in range(5):
        KsOrdered.objects.create(title=f"t{i}", position=i)
    token = _next_cursor(client, issued_on)
    if mangle is not None:
        token = mangle(token)
    separator = "&" if "?" in replayed_on else "?"
    response = client.get(f"{replayed_on}{separator}cursor={token}")
    assert_problem(response, 400, "invalid-cursor")


def test_cursors_survive_secret_key_rotation(client: APIClient, items: list[KsItem], settings: Any) -> None:
    url = client.get("/c/items/").json()["next"]
    page = client.get(url).json()["results"]
    old = settings.SECRET_KEY
    settings.SECRET_KEY = "a-brand-new-secret-key-for-the-contract-tests"
    settings.SECRET_KEY_FALLBACKS = [old]
    assert client.get(url).json()["results"] == page  # new links are signed with the new key
    settings.SECRET_KEY_FALLBACKS = []
    assert_problem(client.get(url), 400, "invalid-cursor")


def test_page_number_pagination_refuses_deep_pages(client: APIClient, items: list[KsItem]) -> None:
    assert client.get("/c/pages/?page=3").status_code == 200
    body = assert_problem(client.get("/c/pages/?page=4"), 400)
    assert "cursor" in body["detail"].lower()
    assert len(client.get("/c/pages/?page_size=1000000000").json()["results"]) <= 500


# -- Versioning ----------------------------------------------------------------------------------


def _vary(response: Any) -> set[str]:
    return {value.strip().lower() for value in response.get("Vary", "").split(",") if value.strip()}


@pytest.mark.parametrize(
    ("url", "headers", "version"),
    [
        ("/c/api/2/profile/", {}, "2"),
        ("/c/hdr/profile/", {"HTTP_ACCEPT": "application/json; version=2"}, "2"),
        ("/c/hdr/profile/", {"HTTP_X_API_VERSION": "2"}, "2"),
        ("/c/hdr/profile/", {}, "3"),
    ],
)
def test_version_sources(client: APIClient, url: str, headers: dict[str, str], version: str) -> None:
    response = client.get(url, **headers)
    assert response.status_code == 200
    assert response.json()["version"] == version
    assert response["API-Version"] == version


@pytest.mark.parametrize(
    "headers", [{"HTTP_ACCEPT": "application/json; version=2"}, {"HTTP_X_API_VERSION": "2"}, {}]
)
def test_vary_covers_the_version_headers(client: APIClient, headers: dict[str, str]) -> None:
    assert {"accept", "x-api-version"} <= _vary(client.get("/c/hdr/profile/", **headers))


def test_unknown_version_is_404_from_the_url_and_406_from_a_header(client: APIClient) -> None:
    for response, status in (
        (client.get("/c/api/9/profile/"), 404),
        (client.get("/c/hdr/profile/", HTTP_X_API_VERSION="9"), 406),
        (client.get("/c/hdr/profile/", HTTP_ACCEPT="application/json; version=9"), 406),
    ):
        body = assert_problem(response, status)
        for name in SERVED:
            assert name in response.content.decode()
        assert "9" in body["detail"]


def test_deprecated_version_announces_deprecation_and_sunset(client: APIClient) -> None:
    response = client.get("/c/api/1/profile/")
    assert response.status_code == 200
    assert response["Deprecation"] == f"@{int(dt.datetime(2025, 1, 1, tzinfo=dt.UTC).timestamp())}"
    assert parsedate_to_datetime(response["Sunset"]) == dt.datetime(2099, 6, 30, tzinfo=dt.UTC)
    assert response["Sunset"].endswith("GMT")
    assert links(response)["deprecation"] == "https://docs.example.com/v1"
    current = client.get("/c/api/2/profile/")
    assert "Deprecation" not in current
    assert "Sunset" not in current


def test_version_past_its_sunset_is_gone(client: APIClient) -> None:
    assert_problem(client.get("/c/api/0/profile/"), 410)


def test_serializer_per_version_falls_back_to_the_closest_lower(client: APIClient) -> None:
    assert client.get("/c/api/1/profile/").json() == {"version": "1", "title": "Ada"}
    assert client.get("/c/api/2/profile/").json() == {"version": "2", "name": "Ada"}
    assert client.get("/c/api/3/profile/").json() == {"version": "3", "name": "Ada"}


@pytest.mark.parametrize(
    ("version", "sent", "answered"),
    [
        ("1", {"title": "Flat", "price": "12.50"}, {"title": "Flat", "price": "12.50"}),
        ("2", {"name": "Flat", "price": "12.50"}, {"name": "Flat", "price": "12.50"}),
        ("3", {"label": "Flat", "price_cents": 1250}, {"label": "Flat", "price_cents": 1250}),
    ],
)
def test_version_changes_upgrade_requests_and_downgrade_responses(
    client: APIClient, version: str, sent: dict[str, Any], answered: dict[str, Any]
) -> None:
    response = client.post(f"/c/api/{version}/echo/", sent, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {**answered, "seen": ["label", "price_cents"]}


def test_version_change_hooks_named_request_and_response(client: APIClient) -> None:
    old = client.post("/c/api/2/summary/", {"headline": "sea view"}, format="json")
    assert old.json() == {"headline": "SEA VIEW"}
    new = client.post("/c/api/3/summary/", {"summary": "sea view"}, format="json")
    assert new.json() == {"summary": "SEA VIEW"}


def test_changelog_command(settings: Any) -> None:
    settings.ROOT_URLCONF = __name__
    out = io.StringIO()
    call_command("nexus_api", "changelog", stdout=out, stderr=io.StringIO())
    text = out.getvalue()
    assert TitleIsName.description in text
    assert NameIsLabelAndPriceInCents.description in text
    # Newest version first.
    assert text.index(NameIsLabelAndPriceInCents.description) < text.index(TitleIsName.description)


# -- Errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status"),
    [("drf", 404), ("http404", 404), ("permission", 403), ("throttled", 429), ("validation", 400)],
)
def test_errors_are_problem_details(client: APIClient, kind: str, status: int) -> None:
    response = client.get(f"/c/boom/?kind={kind}", HTTP_X_REQUEST_ID="req-123")
    body = assert_problem(response, status)
    assert body["instance"] == "/c/boom/"
    assert "req-123" in response.content.decode()
    if kind == "throttled":
        assert response["Retry-After"] == "42"
    if kind == "validation":
        assert set(body["errors"]) == {"email", "age"}
        assert all(isinstance(message, str) for messages in body["errors"].values() for message in messages)


def test_unexpected_exception_is_a_generic_500(caplog: Any) -> None:
    client = APIClient(raise_request_exception=False)
    response = client.get("/c/boom/?kind=crash")
    body = assert_problem(response, 500)
    text = response.content.decode()
    assert "hunter2" not in text
    assert "Traceback" not in text
    assert "RuntimeError" not in text
    assert body["instance"] == "/c/boom/"
    assert any(key in body for key in ("request_id", "requestId"))
    # ... and the exception is logged, with its traceback, for the operators.
    assert any(record.exc_info and "hunter2" in str(record.exc_info[1]) for record in caplog.records)


def test_handler_is_callable_directly() -> None:
    response = problem_exception_handler(exceptions.NotAcceptable(), {"request": None, "view": None})
    assert response.status_code == 406
    assert response.data["status"] == 406


# -- GraphQL ---------------------------------------------------------------------------------------


class ContractItemNode(DjangoObjectType):
    class Meta:
        model = KsItem
        fields = ("id", "name", "rank")
        skip_registry = True


class ContractOrderedNode(DjangoObjectType):
    class Meta:
        model = KsOrdered
        fields = ("id", "position")
        skip_registry = True


class ContractHostNode(DjangoObjectType):
    class Meta:
        model = KsHost
        fields = ("id", "name")
        skip_registry = True


class Query(graphene.ObjectType):
    items = KeysetConnectionField(ContractItemNode, ordering=("-rank", "name"))
    ordered = KeysetConnectionField(ContractOrderedNode)
    hosts = KeysetConnectionField(ContractHostNode)


schema = graphene.Schema(query=Query)

CONNECTION = """
query($first: Int, $after: String, $last: Int, $before: String) {
  %s(first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


def gql(field: str, **variables: Any) -> Any:
    return schema.execute(CONNECTION % field, variable_values=variables)


def gql_walk(field: str, backward: bool = False) -> list[int]:
    ids: list[int] = []
    token = None
    for _ in range(50):
        args = {"last": 4, "before": token} if backward else {"first": 4, "after": token}
        result = gql(field, **args)
        assert result.errors is None, result.errors
        connection_data = result.data[field]
        page = [int(edge["node"]["id"]) for edge in connection_data["edges"]]
        ids = page + ids if backward else ids + page
        info = connection_data["pageInfo"]
        if not (info["hasPreviousPage"] if backward else info["hasNextPage"]):
            return ids
        token = info["startCursor"] if backward else info["endCursor"]
    raise AssertionError("the walk did not end")


def test_graphql_first_after_and_last_before(items: list[KsItem]) -> None:
    ordered = sorted(items, key=lambda row: row.pk)
    ordered.sort(key=lambda row: row.name)
    ordered.sort(key=lambda row: (row.rank is None, row.rank or 0), reverse=True)
    expected_ids = [row.pk for row in ordered]
    assert gql_walk("items") == expected_ids
    assert gql_walk("items", backward=True) == expected_ids


def test_graphql_ordering_falls_back_to_meta_ordering_then_pk() -> None:
    for i in range(6):
        KsOrdered.objects.create(title=f"t{i}", position=i % 3)
        KsHost.objects.create(name=f"h{5 - i}")
    assert gql_walk("ordered") == [
        o.pk for o in sorted(KsOrdered.objects.all(), key=lambda o: (-o.position, o.pk))
    ]
    assert gql_walk("hosts") == sorted(KsHost.objects.values_list("pk", flat=True))


def test_graphql_page_info_runs_no_count(items: list[KsItem]) -> None:
    with CaptureQueriesContext(connection) as queries:
        result = gql("items", first=3)
    assert result.errors is None
    assert result.data["items"]["pageInfo"]["hasNextPage"] is True
    assert not any("COUNT(" in query["sql"].upper() for query in queries.captured_queries)


def test_graphql_first_above_the_maximum_is_a_graphql_error(items: list[KsItem]) -> None:
    result = gql("items", first=1_000_000)
    assert result.errors
    assert result.data is None or result.data.get("items") is None


@pytest.mark.parametrize("token", ["garbage", "bm90IGEgY3Vyc29y"])
def test_graphql_invalid_cursor_is_a_graphql_error_with_a_code(items: list[KsItem], token: str) -> None:
    result = gql("items", first=2, after=token)
    assert result.errors
    assert result.errors[0].extensions
    assert result.errors[0].extensions.get("code")


def test_graphql_cursor_from_another_connection_is_refused(items: list[KsItem]) -> None:
    for i in range(4):
        KsHost.objects.create(name=f"h{i}")
    foreign = gql("hosts", first=2).data["hosts"]["pageInfo"]["endCursor"]
    result = gql("items", first=2, after=foreign)
    assert result.errors
    assert result.errors[0].extensions.get("code")


# -- OpenAPI (drf-spectacular) -------------------------------------------------------------------


def _schema(version: str, schema_class: str, settings: Any) -> dict[str, Any]:
    from drf_spectacular.generators import SchemaGenerator

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_SCHEMA_CLASS": schema_class}
    generator = SchemaGenerator(
        patterns=[path("c/api/<str:version>/items/", VersionedItems.as_view())], api_version=version
    )
    result: dict[str, Any] = generator.get_schema(request=None, public=True)
    return result


def test_openapi_one_schema_per_version_with_problems_and_paginator_parameters(settings: Any) -> None:
    v1 = _schema("1", "nexus_api.openapi.AutoSchema", settings)
    v2 = _schema("2", "nexus_api.openapi.AutoSchema", settings)
    assert "/c/api/1/items/" in v1["paths"]
    assert "/c/api/2/items/" in v2["paths"]
    assert "/c/api/1/items/" not in v2["paths"]
    operation = v2["paths"]["/c/api/2/items/"]["get"]
    parameters = {parameter["name"] for parameter in operation["parameters"]}
    assert {"cursor", "page_size", "ordering"} <= parameters
    problems = [
        response for status, response in operation["responses"].items() if status.startswith(("4", "5"))
    ]
    assert problems
    assert all(PROBLEM in response.get("content", {}) for response in problems)
    assert "400" in operation["responses"]
    envelope = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert "$ref" in envelope or "properties" in envelope


def test_openapi_paginator_parameters_with_the_stock_schema_class(settings: Any) -> None:
    schema = _schema("2", "drf_spectacular.openapi.AutoSchema", settings)
    operation = schema["paths"]["/c/api/2/items/"]["get"]
    assert {"cursor", "page_size"} <= {parameter["name"] for parameter in operation["parameters"]}
