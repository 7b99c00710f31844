"""Settings for the nexus-tasks test suite; services come from the environment."""

from __future__ import annotations

from nexus_testing import database_settings

SECRET_KEY = "nexus-tasks-tests-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "nexus_tasks",
    "tests",
]

DATABASES = {"default": database_settings("nexus_tasks")}

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "nexus-tasks-tests"},
}

NEXUS_TASKS: dict[str, object] = {}
