"""Settings of one benchmark worker; the system under test comes from the environment."""

from __future__ import annotations

import os

SYSTEM = os.environ["NXB_SYSTEM"]
#: Names the worker's keys: two builds of one system (nexus and nexus@before) never share.
LABEL = os.environ.get("NXB_LABEL", SYSTEM).replace("@", "-")
PREFIX = os.environ["NXB_PREFIX"]
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
PG = os.environ.get("NXB_PG", "postgres://postgres@127.0.0.1:5432/")

SECRET_KEY = "benchmarks-only"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ROOT_URLCONF = "bench_settings"
urlpatterns: list[object] = []

INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework", "benchapp"]
if SYSTEM == "nexus":
    INSTALLED_APPS.append("nexus_cache")
elif SYSTEM == "cacheops":
    INSTALLED_APPS.append("cacheops")
elif SYSTEM == "cachalot":
    INSTALLED_APPS.append("cachalot")

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ["NXB_DB"],
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": "5432",
        "CONN_MAX_AGE": None,
    }
}
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": f"{PREFIX}:{LABEL}",
    }
}
NEXUS_CACHE = {"KEY_PREFIX": f"{PREFIX}{LABEL}", "TIMEOUT": 600, "STATS_FLUSH_INTERVAL": 3600.0}
CACHEOPS_REDIS = REDIS_URL
CACHEOPS_PREFIX = "bench_settings.cacheops_prefix"
CACHEOPS = {"benchapp.*": {"ops": (), "timeout": 600}}
CACHALOT_TIMEOUT = 600
REST_FRAMEWORK = {
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
}


def cacheops_prefix(query: object) -> str:
    return f"{PREFIX}co:"
