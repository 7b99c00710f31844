from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from nexus_cache.checks import check_settings


def ids(messages: list) -> list[str]:
    return [m.id for m in messages]


def test_default_configuration_passes_manage_check() -> None:
    call_command("check")
    assert check_settings() == []


@override_settings(NEXUS_CACHE=["not", "a", "dict"])
def test_settings_must_be_a_dict() -> None:
    assert ids(check_settings()) == ["nexus_cache.E001"]


@override_settings(NEXUS_CACHE={"TIMEOUTT": 5})
def test_unknown_key_is_reported_with_the_known_ones() -> None:
    [error] = check_settings()
    assert error.id == "nexus_cache.E002"
    assert "TIMEOUTT" in error.msg
    assert "TIMEOUT" in error.hint


@override_settings(NEXUS_CACHE={"TIMEOUT": True, "ENABLED": 1})
def test_wrong_types_are_reported() -> None:
    assert ids(check_settings()) == ["nexus_cache.E003", "nexus_cache.E003"]


@override_settings(NEXUS_CACHE={"TIMEOUT": 0})
def test_timeout_must_be_finite() -> None:
    assert ids(check_settings()) == ["nexus_cache.E004"]


@override_settings(NEXUS_CACHE={"CACHE_ALIAS": "missing"})
def test_missing_cache_alias_fails_manage_check() -> None:
    with pytest.raises(SystemCheckError, match=r"nexus_cache\.E005"):
        call_command("check")


@pytest.mark.parametrize("prefix", ["", "has space", "tab\there", "x" * 65])
def test_key_prefix_must_be_memcached_safe(prefix: str) -> None:
    with override_settings(NEXUS_CACHE={"KEY_PREFIX": prefix}):
        assert ids(check_settings()) == ["nexus_cache.E007"]


@pytest.mark.parametrize("prefix", ["nx", "{nx}", "app.v2-cache_", "x" * 64])
def test_key_prefix_accepted(prefix: str) -> None:
    with override_settings(NEXUS_CACHE={"KEY_PREFIX": prefix}):
        assert check_settings() == []
