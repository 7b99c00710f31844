"""Settings for the nexus-api test suite; services come from the environment."""

from __future__ import annotations

from nexus_testing import database_settings

SECRET_KEY = "nexus-api-tests-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "nexus_api",
    "tests",
]

DATABASES = {"default": database_settings("nexus_api")}

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "nexus-api-tests"},
}

NEXUS_API: dict[str, object] = {}

REST_FRAMEWORK = {
    "EXCEPTION_HANDLER": "nexus_api.errors.problem_exception_handler",
    # drf-spectacular's @extend_schema binds to this class when a URLconf is imported, which
    # may happen in any test; schema tests override it as they need.
    "DEFAULT_SCHEMA_CLASS": "nexus_api.openapi.AutoSchema",
}
