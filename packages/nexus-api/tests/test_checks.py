from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from nexus_api.checks import check_settings


def ids(messages: list) -> list[str]:
    return [m.id for m in messages]


def test_default_configuration_passes_manage_check() -> None:
    call_command("check")
    assert check_settings() == []


@override_settings(NEXUS_API=None)
def test_settings_must_be_a_dict() -> None:
    assert ids(check_settings()) == ["nexus_api.E001"]


@override_settings(NEXUS_API={"VERSION": ["1"]})
def test_unknown_key_is_reported_with_the_known_ones() -> None:
    [error] = check_settings()
    assert error.id == "nexus_api.E002"
    assert "VERSIONS" in error.hint


@override_settings(NEXUS_API={"PAGE_SIZE": "50"})
def test_wrong_types_are_reported() -> None:
    assert ids(check_settings()) == ["nexus_api.E003"]


@override_settings(NEXUS_API={"PAGE_SIZE": 1000, "MAX_PAGE_SIZE": 100})
def test_page_size_above_cap_is_reported() -> None:
    assert ids(check_settings()) == ["nexus_api.E005"]


@override_settings(NEXUS_API={"VERSIONS": {"1": {}, "2": {}}, "DEFAULT_VERSION": "3"})
def test_default_version_must_be_declared() -> None:
    with pytest.raises(SystemCheckError, match=r"nexus_api\.E004"):
        call_command("check")
