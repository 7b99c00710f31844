"""The public API exactly as DESIGN.md names it, used the way a project would: no broker
needed (``capture_tasks`` stands in for it), so it runs on every laptop."""

from __future__ import annotations

import datetime
import io
from smtplib import SMTPException

import pytest
from celery import Celery
from celery.contrib.django.task import DjangoTask
from celery.result import AsyncResult
from celery.schedules import crontab
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import transaction
from django.test import TestCase, TransactionTestCase
from django.utils import timezone

from nexus_tasks import TaskArgumentError, periodic_task, task
from nexus_tasks.models import OutboxMessage
from nexus_tasks.periodic import periodic_entries
from nexus_tasks.testing import broker_down, capture_tasks

from tests.models import Event


@task(retry_on=(SMTPException,), max_retries=5, unique=True, unique_ttl=600, idempotent=True)
def send_booking_confirmation(booking_id: int) -> int:
    Event.objects.create(tag=f"booking-{booking_id}", kind="confirmation")
    return booking_id


@task
def bare(tag: str, *, note: str = "") -> str:
    Event.objects.create(tag=tag, kind=note or "bare")
    return tag


@task()
def called_without_options(tag: str) -> str:
    return tag


@task
def shadows_options(queue: str, priority: int, using: str) -> str:
    """Its own parameters are called like dispatch options: enqueue_with() serves it."""
    return f"{queue}/{priority}/{using}"


@periodic_task(crontab(minute=0))
def hourly_cleanup() -> None:
    """Declared with a crontab only, as in DESIGN.md."""


def test_task_bare_and_with_options_builds_safe_djangotasks() -> None:
    for built in (send_booking_confirmation, bare, called_without_options):
        assert isinstance(built, DjangoTask)
        assert built.serializer == "json"
        assert built.acks_late is True
        assert built.reject_on_worker_lost is True
        assert callable(built.enqueue)
        assert callable(built.enqueue_with)
    assert send_booking_confirmation.retry_on == (SMTPException,)
    assert send_booking_confirmation.max_retries == 5
    assert send_booking_confirmation.unique is True
    assert send_booking_confirmation.unique_ttl == 600
    assert send_booking_confirmation.idempotent is True
    # The decorated function stays callable directly, as with Celery.
    assert called_without_options("direct") == "direct"


def test_tasks_are_shared_tasks_on_whichever_app_the_project_creates() -> None:
    app = Celery("a-project", set_as_current=False)
    try:
        app.finalize()
        assert bare.name in app.tasks
        assert app.tasks[bare.name].name == bare.name
        assert "tests.test_design_contract.hourly_cleanup" in app.conf.beat_schedule
    finally:
        app.close()


def test_periodic_task_with_a_crontab_fills_the_beat_schedule() -> None:
    entry = periodic_entries()["tests.test_design_contract.hourly_cleanup"]
    assert entry["schedule"] == crontab(minute=0)
    assert isinstance(hourly_cleanup, DjangoTask)


@pytest.mark.django_db(transaction=True, databases=["default", "other"])
def test_enqueue_dispatch_keywords_are_options_not_arguments() -> None:
    eta = timezone.now() + datetime.timedelta(hours=1)
    with capture_tasks() as captured:
        bare.enqueue("a", note="n", countdown=5, queue="mail", priority=3)
        bare.enqueue("b", eta=eta)
        bare.enqueue("c", using="other")
        durable = bare.enqueue("d", durable=True)
    assert [t.args for t in captured] == [["a"], ["b"], ["c"], ["d"]]
    assert captured[0].kwargs == {"note": "n"}
    assert captured[0].options == {"countdown": 5, "queue": "mail", "priority": 3}
    assert captured[1].options == {"eta": eta}
    assert captured[2].using == "other"
    assert OutboxMessage.objects.get(task_id=durable.id).sent_at is not None


@pytest.mark.django_db(transaction=True)
def test_enqueue_with_serves_parameters_named_like_options() -> None:
    with capture_tasks() as captured:
        shadows_options.enqueue_with(
            kwargs={"queue": "q", "priority": 1, "using": "u"}, queue="celery", priority=2
        )
    assert captured[0].kwargs == {"queue": "q", "priority": 1, "using": "u"}
    assert captured[0].options == {"queue": "celery", "priority": 2}
    assert captured.run(store_results=False) == ["q/1/u"]


@pytest.mark.django_db(transaction=True)
def test_the_id_is_fixed_before_dispatch_also_for_durable_and_duplicate_enqueues() -> None:
    with capture_tasks() as captured:
        with transaction.atomic():
            first = send_booking_confirmation.enqueue(7)
            assert isinstance(first, AsyncResult)
            assert first.id
            assert len(captured) == 0
            duplicate = send_booking_confirmation.enqueue(7)
            durable = bare.enqueue("durable", durable=True)
            assert isinstance(durable, AsyncResult)
        assert isinstance(duplicate, AsyncResult)
        assert duplicate.id == first.id
    assert [t.id for t in captured] == [first.id, durable.id]
    assert OutboxMessage.objects.get(task_id=durable.id).task_name == bare.name


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_enqueue_is_dropped_with_its_savepoint() -> None:
    with capture_tasks() as captured, transaction.atomic():
        kept = bare.enqueue("kept")
        try:
            with transaction.atomic():
                bare.enqueue("dropped", durable=True)
                raise RuntimeError
        except RuntimeError:
            pass
    assert [t.id for t in captured] == [kept.id]
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_task_argument_error_names_the_parameter() -> None:
    user = User.objects.create(username="guest")
    with pytest.raises(TaskArgumentError, match=r"'booking_id'.*pass its pk") as info:
        send_booking_confirmation.enqueue(user)
    assert info.value.parameter == "booking_id"
    assert isinstance(info.value, TypeError)
    with pytest.raises(TaskArgumentError, match=r"'note'"):
        bare.enqueue("x", note=object())
    with pytest.raises(TaskArgumentError, match=r"tag\[0\]\['user'\].*pass its pk"):
        called_without_options.enqueue([{"user": user}])


class CaptureInsideTestCase(TestCase):
    """TestCase never commits: capture_tasks() runs the on-commit callbacks itself."""

    def test_enqueued_tasks_are_recorded_and_can_be_run(self) -> None:
        with capture_tasks() as captured:
            result = bare.enqueue("in-testcase")
            send_booking_confirmation.enqueue(8)
        assert captured.names == [bare.name, send_booking_confirmation.name]
        assert captured[0].id == result.id
        assert captured.run(store_results=False) == ["in-testcase", 8]
        assert Event.objects.filter(tag="booking-8").count() == 1


class RelayCommand(TransactionTestCase):
    def test_relay_once_publishes_what_is_pending_and_exits(self) -> None:
        with broker_down():
            bare.enqueue("parked", durable=True)
        out = io.StringIO()
        with capture_tasks() as captured:
            call_command("nexus_tasks", "relay", "--once", stdout=out)
        assert out.getvalue().strip() == "published 1"
        assert captured.names == [bare.name]


def test_public_names_import_from_where_design_md_puts_them() -> None:
    import django

    from nexus_tasks import TaskStatusView
    from nexus_tasks.mail import CeleryEmailBackend

    assert TaskStatusView.__name__ == "TaskStatusView"
    assert CeleryEmailBackend.__name__ == "CeleryEmailBackend"
    if django.VERSION >= (6, 0):
        from nexus_tasks.backends import CeleryBackend

        assert CeleryBackend.supports_defer
        assert CeleryBackend.supports_priority
