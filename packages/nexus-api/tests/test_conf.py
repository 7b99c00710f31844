from __future__ import annotations

from django.test import override_settings

import nexus_api
from nexus_api.conf import DEFAULTS, get_settings


def test_defaults_are_documented_values() -> None:
    # Each feature adds its own settings; these are the ones the skeleton started with.
    assert {k: DEFAULTS[k] for k in ("VERSIONS", "DEFAULT_VERSION", "PAGE_SIZE", "MAX_PAGE_SIZE")} == {
        "VERSIONS": {"1": {}},
        "DEFAULT_VERSION": "1",
        "PAGE_SIZE": 50,
        "MAX_PAGE_SIZE": 500,
    }


def test_override_settings_is_seen_and_undone() -> None:
    assert get_settings().PAGE_SIZE == 50
    with override_settings(NEXUS_API={"PAGE_SIZE": 20}):
        assert get_settings().PAGE_SIZE == 20
    assert get_settings().PAGE_SIZE == 50


def test_version_is_exposed() -> None:
    assert nexus_api.__version__
