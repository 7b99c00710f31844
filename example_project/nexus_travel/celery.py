"""The project's Celery app. Libraries (nexus-tasks) only declare shared tasks; the
project owns the app and its configuration (CELERY_* settings)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexus_travel.settings")

app = Celery("nexus_travel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
