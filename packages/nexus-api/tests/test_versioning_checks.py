"""System checks and the ``nexus_api`` management command for versioning."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from nexus_api.versioning._checks import check_version_references, check_versioning_settings


def ids(messages: list[Any]) -> list[str]:
    return [m.id for m in messages]


@pytest.mark.parametrize(
    ("versions", "expected"),
    [
        ({"1": {"deprecated": "2026-01-01", "sunset": "2027-06-30", "link": "https://x"}}, []),
        ({"1": {"sunset": "2098-01-01", "deprecated": "2099-01-01"}}, ["nexus_api.E022"]),
        ({"1": {"deprecated": "next tuesday"}}, ["nexus_api.E021"]),
        ({"1": {"retired": "2026-01-01"}}, ["nexus_api.E020"]),
        ({"1": {"link": 5}}, ["nexus_api.E020"]),
        ({"1": []}, ["nexus_api.E020"]),
        ({1: {}, "1": {}}, ["nexus_api.E020"]),
        ({}, ["nexus_api.E027"]),
    ],
)
def test_versions_are_validated(versions: dict[Any, Any], expected: list[str]) -> None:
    with override_settings(NEXUS_API={"VERSIONS": versions, "DEFAULT_VERSION": "1"}):
        assert ids(check_versioning_settings()) == expected


def test_sunset_before_deprecation_fails_manage_check() -> None:
    versions = {"1": {"deprecated": "2027-01-01", "sunset": "2026-01-01"}, "2": {}}
    with (
        override_settings(NEXUS_API={"VERSIONS": versions, "DEFAULT_VERSION": "2"}),
        pytest.raises(Exception, match=r"nexus_api\.E022"),
    ):
        call_command("check")


def test_retired_default_version_is_a_warning() -> None:
    settings = {"VERSIONS": {"1": {"sunset": "2020-01-01"}}, "DEFAULT_VERSION": "1"}
    with override_settings(NEXUS_API=settings):
        assert ids(check_versioning_settings()) == ["nexus_api.W021"]
    with override_settings(NEXUS_API={**settings, "ENFORCE_SUNSET": False}):
        assert ids(check_versioning_settings()) == []


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"VERSION_SOURCES": ["url", "cookie"]}, ["nexus_api.E023"]),
        ({"VERSION_SOURCES": []}, ["nexus_api.E023"]),
        ({"VERSION_SOURCES": ["url", "url"]}, ["nexus_api.E023"]),
        ({"VERSION_SOURCES": ("query",)}, []),
        ({"VALIDATION_ERROR_STATUS": 418}, ["nexus_api.E024"]),
        ({"VALIDATION_ERROR_STATUS": 422}, []),
        ({"PROBLEM_TYPE_BASE": "https://x/problems"}, ["nexus_api.W022"]),
        ({"PROBLEM_TYPE_BASE": "urn:example:"}, []),
    ],
)
def test_other_settings(settings: dict[str, Any], expected: list[str]) -> None:
    with override_settings(NEXUS_API=settings):
        assert ids(check_versioning_settings()) == expected


@override_settings(NEXUS_API=None)
def test_non_dict_settings_are_left_to_e001() -> None:
    assert check_versioning_settings() == []
    assert check_version_references() == []


@override_settings(ROOT_URLCONF="tests.urls_versioning", NEXUS_API={"VERSIONS": {"1": {}, "2": {}, "3": {}}})
def test_references_are_fine_when_declared() -> None:
    assert check_version_references() == []


@override_settings(ROOT_URLCONF="tests.urls_versioning", NEXUS_API={"VERSIONS": {"1": {}, "2": {}}})
def test_undeclared_change_and_serializer_versions_are_errors() -> None:
    messages = check_version_references()
    assert set(ids(messages)) == {"nexus_api.E025", "nexus_api.E026"}
    text = " ".join(m.msg for m in messages)
    assert "ProfileView.serializer_classes" in text
    assert "HostDisplayName" in text  # found through a nested serializer
    assert "StatsRemoved" in text  # found on a view


@override_settings(ROOT_URLCONF="tests.urls_versioning", NEXUS_API={"VERSIONS": {"2": {}, "3": {}, "1": {}}})
def test_change_in_the_oldest_version_is_a_warning() -> None:
    messages = check_version_references()
    assert set(ids(messages)) == {"nexus_api.W020"}


@override_settings(ROOT_URLCONF="tests.urls_broken")
def test_broken_urlconf_is_left_to_django() -> None:
    assert check_version_references() == []


CHANGELOG_SETTINGS = {
    "ROOT_URLCONF": "tests.urls_versioning",
    "NEXUS_API": {
        "VERSIONS": {"1": {"deprecated": "2025-01-01", "sunset": "2099-06-30"}, "2": {}, "3": {}, "4": {}},
        "DEFAULT_VERSION": "3",
    },
}


@override_settings(**CHANGELOG_SETTINGS)
def test_changelog_text() -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("nexus_api", "changelog", stdout=out, stderr=err)
    text = out.getvalue()
    assert text.index("## 4") < text.index("## 3") < text.index("## 2") < text.index("## 1")
    assert "## 1 (deprecated 2025-01-01, sunset 2099-06-30)" in text
    assert "- Listing `title` is now `name`.\n  - field `title` renamed to `name`" in text
    assert "- Reviews moved out of the listing into /listings/{id}/reviews/." in text
    assert "  - endpoint /listings/{id}/reviews/ added" in text
    section_4 = text[text.index("## 4") : text.index("## 3")]
    assert "No breaking changes" in section_4
    section_2 = text[text.index("## 2") : text.index("## 1")]
    assert "RenameTitle" not in section_2  # descriptions, not class names
    assert "`price` is an object" not in section_2


@override_settings(**CHANGELOG_SETTINGS)
def test_changelog_json_and_versions() -> None:
    out = io.StringIO()
    call_command("nexus_api", "changelog", "--format", "json", stdout=out, stderr=io.StringIO())
    payload = json.loads(out.getvalue())
    assert [entry["version"] for entry in payload] == ["4", "3", "2", "1"]
    v2 = {change["name"].rsplit(".", 1)[1] for change in payload[2]["changes"]}
    assert {"RenameTitle", "SplitReviews"} <= v2
    assert payload[3]["sunset"] == "2099-06-30"

    out = io.StringIO()
    call_command("nexus_api", "versions", stdout=out)
    assert out.getvalue().splitlines() == [
        "1 (deprecated 2025-01-01, sunset 2099-06-30)",
        "2",
        "3 (default)",
        "4",
    ]
    out = io.StringIO()
    call_command("nexus_api", "versions", "--format", "json", stdout=out)
    rows = json.loads(out.getvalue())
    assert rows[2]["default"] is True
    assert rows[0]["retired"] is False


@override_settings(ROOT_URLCONF="tests.urls_versioning", NEXUS_API={"VERSIONS": {"1": {}, "2": {}}})
def test_changelog_warns_about_undeclared_versions() -> None:
    err = io.StringIO()
    call_command("nexus_api", "changelog", stdout=io.StringIO(), stderr=err)
    assert "PriceObject names version '3'" in err.getvalue()


@override_settings(ROOT_URLCONF="tests.urls_broken")
def test_changelog_with_a_broken_urlconf() -> None:
    with pytest.raises(CommandError, match="Could not import the URLconf"):
        call_command("nexus_api", "changelog", stdout=io.StringIO())
