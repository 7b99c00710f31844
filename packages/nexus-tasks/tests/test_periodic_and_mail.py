"""@periodic_task, the beat leader lock, and CeleryEmailBackend."""

from __future__ import annotations

import datetime
import smtplib
from email.message import MIMEPart
from email.mime.text import MIMEText
from typing import Any

import django
import pytest
from celery import Celery
from celery.schedules import crontab
from django.core import mail
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.mail.backends.locmem import EmailBackend as LocMemBackend
from django.test import override_settings

from nexus_tasks import periodic_task
from nexus_tasks.mail import CeleryEmailBackend, deserialize_message, serialize_message
from nexus_tasks.periodic import MemoryLeaderScheduler, periodic_entries
from nexus_tasks.testing import capture_tasks


@periodic_task(crontab(minute=0), name="tests.hourly", args=(1,))
def hourly(value: int) -> int:
    return value


@periodic_task(30)
def every_thirty_seconds() -> None:
    pass


def test_periodic_tasks_fill_beat_schedule_of_a_new_app() -> None:
    app = Celery("periodic-check", set_as_current=False)
    app.conf.beat_schedule = {"tests.hourly": {"task": "tests.hourly", "schedule": 5.0}}
    app.finalize()
    schedule = app.conf.beat_schedule
    assert schedule["tests.hourly"]["schedule"] == 5.0  # the project's own entry wins
    name = f"{__name__}.every_thirty_seconds"
    assert schedule[name]["schedule"] == datetime.timedelta(seconds=30)
    assert schedule["nexus_tasks.relay_outbox"]["task"] == "nexus_tasks.relay_outbox"
    assert periodic_entries()["tests.hourly"]["args"] == (1,)
    assert hourly.name == "tests.hourly"
    with pytest.raises(ValueError, match="positive"):
        periodic_task(0)


@pytest.mark.django_db(transaction=True)
def test_only_one_beat_scheduler_leads(settings) -> None:  # type: ignore[no-untyped-def]
    settings.NEXUS_TASKS = {**settings.NEXUS_TASKS, "BEAT_LOCK_TTL": 30}
    app = Celery("beat-check", set_as_current=False)
    first = MemoryLeaderScheduler(app=app, lazy=True)
    second = MemoryLeaderScheduler(app=app, lazy=True)
    assert first.is_leader() is True
    assert second.is_leader() is False
    assert first.is_leader() is True  # renewal
    assert second.tick() == 10.0  # a follower only waits
    first.close()
    assert second.is_leader() is True


def inline_part(text: str) -> Any:
    if django.VERSION >= (6, 0):
        part = MIMEPart()
        part.set_content(text)
        return part
    return MIMEText(text)


def make_message() -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject="Booking confirmed",
        body="plain",
        from_email="bookings@example.com",
        to=["guest@example.com"],
        cc=["cc@example.com"],
        bcc=["audit@example.com"],
        reply_to=["host@example.com"],
        headers={"X-Booking": "42"},
    )
    message.attach_alternative("<p>html</p>", "text/html")
    message.attach("ticket.pdf", b"%PDF-\x00\x01", "application/pdf")
    message.attach("notes.txt", "some notes", "text/plain")
    message.attach(inline_part("inline mime"))
    return message


def test_serialisation_keeps_every_part() -> None:
    original = make_message()
    copy = deserialize_message(serialize_message(original))
    assert (copy.subject, copy.body, copy.from_email) == (
        "Booking confirmed",
        "plain",
        "bookings@example.com",
    )
    assert (copy.to, copy.cc, copy.bcc, copy.reply_to) == (
        original.to,
        original.cc,
        original.bcc,
        original.reply_to,
    )
    assert copy.extra_headers == {"X-Booking": "42"}
    assert [tuple(a) for a in copy.alternatives] == [("<p>html</p>", "text/html")]
    assert tuple(copy.attachments[0]) == ("ticket.pdf", b"%PDF-\x00\x01", "application/pdf")
    assert tuple(copy.attachments[1]) == ("notes.txt", "some notes", "text/plain")
    assert "inline mime" in copy.message().as_string()


if django.VERSION >= (6, 1):  # MAILERS replaces EMAIL_BACKEND
    USE_CELERY_MAIL = override_settings(
        MAILERS={"default": {"BACKEND": "nexus_tasks.mail.CeleryEmailBackend"}}
    )
else:
    USE_CELERY_MAIL = override_settings(EMAIL_BACKEND="nexus_tasks.mail.CeleryEmailBackend")


@pytest.mark.django_db(transaction=True)
@USE_CELERY_MAIL
def test_backend_queues_and_worker_side_sends_with_the_real_backend(settings) -> None:  # type: ignore[no-untyped-def]
    settings.NEXUS_TASKS = {
        **settings.NEXUS_TASKS,
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    }
    with capture_tasks() as captured:
        assert CeleryEmailBackend().send_messages([make_message(), EmailMessage(subject="nobody")]) == 1
        assert (
            mail.send_mail(
                subject="s", message="b", from_email="f@example.com", recipient_list=["t@example.com"]
            )
            == 1
        )
    assert captured.names == ["nexus_tasks.send_email", "nexus_tasks.send_email"]
    mail.outbox = []
    captured.run(store_results=False)
    assert [m.subject for m in mail.outbox] == ["Booking confirmed", "s"]
    assert mail.outbox[0].bcc == ["audit@example.com"]


class FlakySMTP(LocMemBackend):
    failures = 0

    def send_messages(self, messages: Any) -> int:
        if FlakySMTP.failures:
            FlakySMTP.failures -= 1
            raise smtplib.SMTPServerDisconnected("try later")
        return super().send_messages(messages)


@pytest.mark.django_db(transaction=True)
def test_smtp_failures_are_retried_in_the_worker(settings) -> None:  # type: ignore[no-untyped-def]
    settings.NEXUS_TASKS = {
        **settings.NEXUS_TASKS,
        "EMAIL_BACKEND": f"{__name__}.FlakySMTP",
        "RETRY_BACKOFF": 0.001,
        "RETRY_BACKOFF_MAX": 0.001,
    }
    FlakySMTP.failures = 2
    with capture_tasks() as captured:
        CeleryEmailBackend().send_messages([make_message()])
    mail.outbox = []
    captured.run(store_results=False)
    assert FlakySMTP.failures == 0
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_mail_goes_through_the_outbox_when_configured(settings) -> None:  # type: ignore[no-untyped-def]
    from django.db import transaction

    from nexus_tasks.models import OutboxMessage

    settings.NEXUS_TASKS = {**settings.NEXUS_TASKS, "DISPATCH": "outbox"}
    with capture_tasks(run_on_commit=False) as captured, transaction.atomic():
        assert CeleryEmailBackend().send_messages([make_message()]) == 1
        assert (
            OutboxMessage.objects.filter(task_name="nexus_tasks.send_email", sent_at__isnull=True).count()
            == 1
        )
        assert len(captured) == 0  # nothing before the commit
    assert captured.names == ["nexus_tasks.send_email"]
    assert OutboxMessage.objects.get(task_name="nexus_tasks.send_email").sent_at is not None
