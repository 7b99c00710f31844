"""Property tests: any version a client can send is answered by a declared version or a
404/406 problem (never a 500), and field operations round-trip."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from nexus_api.errors import PROBLEM_CONTENT_TYPE, problem_type_uri
from nexus_api.versioning import AddField, ChangeContext, RenameField

pytestmark = pytest.mark.urls("tests.urls_versioning")

VERSIONS = {"1": {"deprecated": "2025-01-01"}, "2": {}, "3": {}}
header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
versionish = st.one_of(header_text, st.sampled_from(["1", "2", "3", "v1", "V2", "4", "", " 2", "2 "]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header=versionish, accept_version=versionish, url_version=versionish)
def test_any_version_gets_a_declared_version_or_a_problem(
    header: str, accept_version: str, url_version: str
) -> None:
    client = APIClient()
    # Only characters a <str:version> segment can hold; anything else would miss the URLconf.
    segment = "".join(c for c in url_version if c.isalnum() or c in "-_.~") or "3"
    with override_settings(NEXUS_API={"VERSIONS": VERSIONS, "DEFAULT_VERSION": "3"}):
        response = client.get(
            f"/api/{segment}/profile/",
            HTTP_X_API_VERSION=header,
            HTTP_ACCEPT=f'application/json; version="{accept_version}"',
        )
    assert response.status_code in (200, 404, 406), response.content
    if response.status_code == 200:
        assert response["API-Version"] in VERSIONS
    else:
        assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
        body = response.json()
        if body["type"].endswith("unsupported-version"):
            assert body["supported_versions"] == ["1", "2", "3"]


keys = st.text(alphabet="abcdefghij_", min_size=1, max_size=6)
payloads = st.dictionaries(keys, st.one_of(st.integers(), st.text(max_size=5), st.none()), max_size=6)


# Generation is cheap, but the first draws can be slow on a busy CI machine.
relaxed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@relaxed
@given(data=payloads, old=keys, new=keys)
def test_rename_round_trips_and_keeps_order(data: dict[str, Any], old: str, new: str) -> None:
    if old == new or new in data:
        return
    context = ChangeContext(version="1")
    rename = RenameField(old, new)
    upgraded = rename.upgrade(data, context)
    assert rename.downgrade(upgraded, context) == data
    assert list(rename.downgrade(upgraded, context)) == list(data)


@relaxed
@given(data=payloads, name=keys)
def test_added_field_is_invisible_to_older_versions(data: dict[str, Any], name: str) -> None:
    context = ChangeContext(version="1")
    add = AddField(name, default=0)
    older = add.downgrade(data, context)
    assert name not in older
    assert add.upgrade(older, context)[name] == 0


@relaxed
@given(code=st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=30))
def test_problem_types_are_kebab_case_codes(code: str) -> None:
    uri = problem_type_uri(code)
    assert uri.startswith("/problems/")
    assert "_" not in uri
