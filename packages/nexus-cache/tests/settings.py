"""Settings for the nexus-cache test suite; services come from the environment."""

from __future__ import annotations

import atexit
import secrets
import shutil
import tempfile

from nexus_testing import database_settings, memcached_location, redis_url

SECRET_KEY = "nexus-cache-tests-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "rest_framework",
    "graphene_django",
    "nexus_cache",
    "tests",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

DATABASES = {"default": database_settings("nexus_cache")}
# A read replica of default (the same database in tests): tokens map to default's.
DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}

_FILE_CACHE_DIR = tempfile.mkdtemp(prefix="nexus-cache-tests-")
atexit.register(shutil.rmtree, _FILE_CACHE_DIR, ignore_errors=True)

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "nexus-cache-tests"},
    "file": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": _FILE_CACHE_DIR,
    },
    "db": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "nexus_cache_test_table"},
    "redis": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": redis_url(),
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
    },
    # Shared with other suites and never flushed: a prefix of its own per session (memcached
    # cannot list keys, so nothing is deleted; every key nexus-cache writes expires).
    "memcached": {
        "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
        "LOCATION": memcached_location(),
        "KEY_PREFIX": f"nxs{secrets.token_hex(4)}",
        "OPTIONS": {"connect_timeout": 1, "timeout": 1},
    },
}

NEXUS_CACHE: dict[str, object] = {}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

GRAPHENE = {"SCHEMA": "tests.schema.schema"}

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

# Fast hashing: the tests create users, they do not test password storage.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
