from __future__ import annotations

from django.test import override_settings

import nexus_cache
from nexus_cache.conf import DEFAULTS, get_settings


def test_defaults_are_documented_values() -> None:
    assert DEFAULTS["CACHE_ALIAS"] == "default"
    assert DEFAULTS["TIMEOUT"] == 300
    assert DEFAULTS["KEY_PREFIX"] == "nx"
    assert DEFAULTS["ENABLED"] is True
    assert DEFAULTS["FAIL_OPEN"] is True


def test_override_settings_is_seen_and_undone() -> None:
    assert get_settings().TIMEOUT == 300
    with override_settings(NEXUS_CACHE={"TIMEOUT": 12}):
        assert get_settings().TIMEOUT == 12
    assert get_settings().TIMEOUT == 300


def test_version_is_exposed() -> None:
    assert nexus_cache.__version__
