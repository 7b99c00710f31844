from __future__ import annotations

from django.test import override_settings

import nexus_tasks
from nexus_tasks.conf import DEFAULTS, get_settings


def test_defaults_are_documented_values() -> None:
    assert DEFAULTS["DISPATCH"] == "on_commit"
    assert DEFAULTS["PUBLISH_TIMEOUT"] == 1.0
    assert DEFAULTS["STORE"] == "database"


def test_override_settings_is_seen_and_undone() -> None:
    assert get_settings().DISPATCH == "on_commit"
    with override_settings(NEXUS_TASKS={"DISPATCH": "outbox"}):
        assert get_settings().DISPATCH == "outbox"
    assert get_settings().DISPATCH == "on_commit"


def test_version_is_exposed() -> None:
    assert nexus_tasks.__version__
