from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from nexus_tasks.checks import check_idempotency_store, check_settings


def ids(messages: list) -> list[str]:
    return [m.id for m in messages]


def test_default_configuration_passes_manage_check() -> None:
    call_command("check")
    assert check_settings() == []


@override_settings(NEXUS_TASKS="outbox")
def test_settings_must_be_a_dict() -> None:
    assert ids(check_settings()) == ["nexus_tasks.E001"]


@override_settings(NEXUS_TASKS={"DISPATH": "outbox"})
def test_unknown_key_is_reported_with_the_known_ones() -> None:
    [error] = check_settings()
    assert error.id == "nexus_tasks.E002"
    assert "DISPATH" in error.msg
    assert "DISPATCH" in error.hint


@override_settings(NEXUS_TASKS={"PUBLISH_TIMEOUT": True})
def test_wrong_types_are_reported() -> None:
    assert ids(check_settings()) == ["nexus_tasks.E003"]


@override_settings(NEXUS_TASKS={"PUBLISH_TIMEOUT": 0})
def test_publish_timeout_must_be_positive() -> None:
    assert ids(check_settings()) == ["nexus_tasks.E005"]


@override_settings(NEXUS_TASKS={"DISPATCH": "eventually"})
def test_unknown_dispatch_mode_fails_manage_check() -> None:
    with pytest.raises(SystemCheckError, match=r"nexus_tasks\.E004"):
        call_command("check")


@override_settings(NEXUS_TASKS={"STORE": "memcached"})
def test_unknown_store_is_reported() -> None:
    assert ids(check_settings()) == ["nexus_tasks.E006"]


def test_idempotent_tasks_on_the_redis_store_get_an_info() -> None:
    from tests import tasks  # noqa: F401 - defines idempotent tasks

    with override_settings(NEXUS_TASKS={"STORE": "redis"}):
        [info] = check_idempotency_store()
        call_command("check", "--fail-level", "WARNING")  # an Info never fails a deploy
    assert info.id == "nexus_tasks.I001"
    assert "tests.tasks.idempotent_record" in info.msg
    assert "at least once" in info.msg
    assert "'database'" in info.hint
    with override_settings(NEXUS_TASKS={"STORE": "database"}):
        assert check_idempotency_store() == []
