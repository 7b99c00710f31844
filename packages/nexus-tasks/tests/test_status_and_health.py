"""Progress through TaskStatusView, and the health report, with a real worker."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

import nexus_tasks
from nexus_tasks.health import health_report
from nexus_tasks.models import DeadLetter, OutboxMessage
from nexus_tasks.testing import broker_down

from tests.conftest import wait_for
from tests.gates import Gate
from tests.tasks import progress, record


@pytest.fixture
def users(transactional_db) -> tuple[User, User]:  # type: ignore[no-untyped-def]
    return User.objects.create(username="owner"), User.objects.create(username="other")


def test_progress_state_and_result_are_visible_to_the_owner_only(worker, users, gate: Gate) -> None:
    owner, other = users
    result = progress.enqueue_with(args=(gate.tag, 3), owner=owner)
    client = APIClient()
    client.force_authenticate(owner)
    url = f"/tasks/{result.id}/"

    def in_progress():  # type: ignore[no-untyped-def]
        body = client.get(url).json()
        return body if body["state"] == "PROGRESS" else None

    body = wait_for(in_progress)  # the task reported step 1 and waits at its gate
    assert body["progress"] == {"done": 1, "total": 3, "message": "step 1"}
    gate.open()
    assert result.get(timeout=20) == 3
    done = client.get(url).json()
    assert done == {"id": result.id, "name": progress.name, "state": "SUCCESS", "progress": None, "result": 3}
    stranger = APIClient()
    stranger.force_authenticate(other)
    assert stranger.get(url).status_code == 404
    assert APIClient().get(url).status_code in (401, 403)


def test_unknown_id_is_404_not_pending(users) -> None:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_authenticate(users[0])
    assert client.get("/tasks/does-not-exist/").status_code == 404


def test_status_view_is_exported_lazily() -> None:
    from nexus_tasks.views import TaskStatusView

    assert nexus_tasks.TaskStatusView is TaskStatusView
    with pytest.raises(AttributeError):
        nexus_tasks.nope  # noqa: B018


def test_health_reports_workers_backlog_and_dead_letters(worker, unique_namespace: str, settings) -> None:
    record.enqueue(unique_namespace).get(timeout=20)
    report = health_report()
    assert report["broker"]["reachable"] is True
    assert any(name.startswith(worker.app_name) for name in report["workers"])
    assert report["outbox"] == {"pending": 0, "oldest_pending_age_seconds": 0.0}
    assert report["healthy"] is True
    # Relative: a worker of an earlier test may still dead-letter a message into this database.
    dead_before = report["dead_letters"]
    with broker_down():
        record.enqueue(f"{unique_namespace}-parked")
    DeadLetter.objects.create(task_id="x", task_name="t", payload="{}", reason="max_retries")
    settings.NEXUS_TASKS = {**settings.NEXUS_TASKS, "HEALTH_MAX_OUTBOX_AGE": 0}
    report = health_report()
    assert report["outbox"]["pending"] == 1
    assert report["dead_letters"] == dead_before + 1
    assert report["healthy"] is False
    assert "oldest pending outbox message" in report["problems"][0]
    response = APIClient().get("/health/")
    assert response.status_code == 503
    assert response.json()["outbox"]["pending"] == 1
    with pytest.raises(CommandError, match="unhealthy"):
        call_command("nexus_tasks", "health", "--json")
    call_command("nexus_tasks", "relay", "--once")
    assert not OutboxMessage.objects.filter(sent_at__isnull=True).exists()
    wait_for(lambda: json.loads(APIClient().get("/health/").content)["healthy"])


def test_progress_of_a_body_inside_a_transaction_is_visible_outside(worker, users, gate: Gate) -> None:
    from tests.models import Event
    from tests.tasks import idempotent_progress

    owner, _ = users
    unique_namespace = gate.tag
    result = idempotent_progress.enqueue_with(args=(unique_namespace, 3), owner=owner)
    client = APIClient()
    client.force_authenticate(owner)

    def in_progress():  # type: ignore[no-untyped-def]
        body = client.get(f"/tasks/{result.id}/").json()
        return body if body["state"] == "PROGRESS" else None

    body = wait_for(in_progress)  # reported, and now waiting at its gate
    assert body["progress"]["message"] == "working"
    # The body's own write is still uncommitted while its progress is already visible.
    assert not Event.objects.filter(tag=unique_namespace).exists()
    gate.open()
    assert result.get(timeout=20) == 3
    assert Event.objects.filter(tag=unique_namespace).count() == 1
