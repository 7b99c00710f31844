"""Settings for the nexus-tasks test suite; services come from the environment.

The worker subprocesses started by ``conftest.worker`` import this same module; the
environment carries what must match between them and the test process: the per-session
namespace (queue, exchanges and Redis key prefixes) and the test database's name.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

import django

from nexus_testing import database_settings, redis_url

#: Unique per test session (inherited by worker subprocesses through the environment), so
#: parallel suites on the same Redis/RabbitMQ never share a queue or a key.
NAMESPACE = os.environ.setdefault("NEXUS_TASKS_TEST_NS", f"nxt{secrets.token_hex(4)}")

SECRET_KEY = "nexus-tasks-tests-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "nexus_tasks",
    "tests",
]

# SQLite: a file, because the worker is another process and must see the same data.
_SQLITE_PATH = str(Path(tempfile.gettempdir()) / f"{NAMESPACE}.sqlite3")
DATABASES = {"default": database_settings("nexus_tasks", sqlite_path=_SQLITE_PATH)}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": _SQLITE_PATH}
    DATABASES["default"]["OPTIONS"] = {"timeout": 30}
else:
    # One test database per session, not per tox environment name: two runs of the same
    # environment at once (a developer and CI on one machine) must not share tables, or
    # one run's relay publishes the other's outbox.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{NAMESPACE}"}
# A second database for ``using=`` tests.
_OTHER_PATH = str(Path(tempfile.gettempdir()) / f"{NAMESPACE}-other.sqlite3")
DATABASES["other"] = database_settings("nexus_tasks_other", sqlite_path=_OTHER_PATH)
if DATABASES["other"]["ENGINE"].endswith("sqlite3"):
    DATABASES["other"]["TEST"] = {"NAME": _OTHER_PATH}
    DATABASES["other"]["OPTIONS"] = {"timeout": 30}
else:
    DATABASES["other"]["TEST"] = {"NAME": f"test_{NAMESPACE}_other"}
if os.environ.get("NEXUS_TASKS_WORKER_DB"):
    # In a worker subprocess: use the test databases the test process created.
    DATABASES["default"]["NAME"] = os.environ["NEXUS_TASKS_WORKER_DB"]
    DATABASES["other"]["NAME"] = os.environ["NEXUS_TASKS_WORKER_DB_OTHER"]

if django.VERSION >= (6, 1):
    # Django 6.1 replaces EMAIL_BACKEND with MAILERS (the old setting warns).
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "nexus-tasks-tests"},
}

NEXUS_TASKS: dict[str, object] = {"KEY_PREFIX": f"{NAMESPACE}:nx", "REDIS_URL": redis_url()}

CELERY_BROKER_URL = redis_url()
CELERY_RESULT_BACKEND = redis_url()
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"global_keyprefix": f"{NAMESPACE}:"}
CELERY_TASK_DEFAULT_QUEUE = NAMESPACE
CELERY_TASK_DEFAULT_EXCHANGE = NAMESPACE
CELERY_TASK_DEFAULT_ROUTING_KEY = NAMESPACE
CELERY_CONTROL_EXCHANGE = f"{NAMESPACE}.ctl"
CELERY_EVENT_EXCHANGE = f"{NAMESPACE}.ev"
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_PREFETCH_MULTIPLIER = int(os.environ.get("NEXUS_TASKS_TEST_PREFETCH", "4"))
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_POOL_LIMIT = 10
# Eager runs (tests/test_eager.py switches task_always_eager on) store their results in the
# Redis result backend, as a project's eager test settings would.
CELERY_TASK_STORE_EAGER_RESULT = True

# Django >= 6.0 reads this (5.2 ignores it): django.tasks on Celery workers.
TASKS = {
    "default": {
        "BACKEND": "nexus_tasks.backends.CeleryBackend",
        "QUEUES": ["default", "high"],
        "OPTIONS": {"QUEUE_MAP": {"high": f"{NAMESPACE}.high"}},
    }
}
CELERY_TASK_QUEUE_MAX_PRIORITY = 9

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "loggers": {"nexus_tasks": {"level": "INFO"}},
}
