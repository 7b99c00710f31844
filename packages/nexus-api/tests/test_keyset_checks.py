from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from nexus_api.checks import check_pagination_settings, check_settings
from nexus_api.conf import get_settings


def test_pagination_defaults() -> None:
    settings = get_settings()
    assert (settings.COUNT_POLICY, settings.MAX_PAGE, settings.GRAPHQL_MAX_FIRST) == ("none", 100, 100)
    assert settings.CURSOR_SALT
    assert check_pagination_settings() == []


@override_settings(NEXUS_API={"COUNT_POLICY": "sometimes"})
def test_unknown_count_policy() -> None:
    [error] = check_pagination_settings()
    assert error.id == "nexus_api.E010"
    assert "'exact'" in (error.hint or "")
    with pytest.raises(SystemCheckError, match="E010"):
        call_command("check")


@override_settings(NEXUS_API={"MAX_PAGE": 0, "GRAPHQL_MAX_FIRST": -1, "COUNT_CACHE_TIMEOUT": "60"})
def test_positive_integers() -> None:
    assert [e.id for e in check_pagination_settings()] == ["nexus_api.E011", "nexus_api.E011"]
    assert [e.id for e in check_settings()] == ["nexus_api.E003"]


@override_settings(NEXUS_API=None)
def test_not_a_dict_is_reported_once() -> None:
    assert check_pagination_settings() == []
