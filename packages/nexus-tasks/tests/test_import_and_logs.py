"""Import hygiene and structured log lines."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from tests.tasks import record


def test_importing_the_package_needs_neither_settings_nor_drf() -> None:
    code = (
        "import sys, nexus_tasks; "
        "assert nexus_tasks.TaskArgumentError and nexus_tasks.__version__; "
        "assert 'rest_framework' not in sys.modules, 'DRF imported'; "
        "from nexus_tasks import task; print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PATH": ""}, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


@pytest.mark.django_db(transaction=True)
def test_state_changes_are_logged_as_key_value_lines(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="nexus_tasks"):
        record.apply(args=["logged"], task_id="log-id-1", ignore_result=True)
    lines = [r.getMessage() for r in caplog.records if r.name == "nexus_tasks"]
    assert lines[0] == "event=start task=tests.tasks.record id=log-id-1 retries=0"
    assert lines[1].startswith("event=success task=tests.tasks.record id=log-id-1 duration_ms=")
    success = next(r for r in caplog.records if getattr(r, "nexus_event", None) == "success")
    assert success.task_id == "log-id-1"  # type: ignore[attr-defined]
    assert success.duration_ms >= 0  # type: ignore[attr-defined]
