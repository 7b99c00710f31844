"""The embedded default that `make run` uses — SQLite, file-based cache, Celery on kombu's
filesystem transport — works end to end with a real worker process and no servers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent


def run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    # `shell` may print a banner (Django 5.2's automatic imports); the answer is the last line.
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


@pytest.fixture
def embedded_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}
    env.update(
        NEXUS_TRAVEL_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="nexus_travel.settings",
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        CELERY_TASK_ALWAYS_EAGER="0",
    )
    return env


def test_worker_sends_booking_confirmation_over_filesystem_broker(
    embedded_env: dict[str, str], tmp_path: Path
) -> None:
    run(["migrate", "--noinput", "-v", "0"], embedded_env)
    run(["seed", "--listings", "5", "--users", "2", "--reviews", "2"], embedded_env)
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "nexus_travel", "worker", "--pool", "solo", "-l", "INFO"],
        cwd=PROJECT,
        env=embedded_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        booking_id = run(
            [
                "shell",
                "-c",
                "from django.db import transaction\n"
                "from django.contrib.auth.models import User\n"
                "from bookings.models import Booking\n"
                "from bookings.tasks import send_booking_confirmation\n"
                "from listings.models import Listing\n"
                "import datetime as dt\n"
                "with transaction.atomic():\n"
                "    b = Booking.objects.create(listing=Listing.objects.first(), guest=User.objects.get(username='demo'),"
                " check_in=dt.date(2027, 5, 1), check_out=dt.date(2027, 5, 3), total_price=10)\n"
                "    send_booking_confirmation.enqueue(b.pk, durable=True)\n"
                "print(b.pk)\n",
            ],
            embedded_env,
        ).strip()
        deadline = time.monotonic() + 60
        sent = ""
        while time.monotonic() < deadline:
            sent = run(
                [
                    "shell",
                    "-c",
                    f"from bookings.models import Booking; print(Booking.objects.get(pk={booking_id}).confirmation_sent_at)",
                ],
                embedded_env,
            ).strip()
            if sent != "None":
                break
            time.sleep(0.5)
        assert sent != "None", "no confirmation within 60 s:\n" + (tmp_path / "worker.log").read_text()
        assert list((tmp_path / "mail").iterdir()), "no mail file written by the worker"
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()
