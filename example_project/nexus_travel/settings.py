"""Settings for Nexus Travel.

Everything that differs between machines comes from the environment. With nothing set the
project runs on its embedded default — SQLite, a file-based cache shared by web and
worker, and Celery on kombu's filesystem transport — so `make run` needs no servers.
With DATABASE_URL, REDIS_URL and CELERY_BROKER_URL it runs on PostgreSQL, Redis and
RabbitMQ (or Redis as broker).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("NEXUS_TRAVEL_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.lower() in ("1", "true", "yes", "on")


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "nexus-travel-insecure-development-key")
DEBUG = env_bool("DJANGO_DEBUG", True)
ALLOWED_HOSTS = [
    h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "graphene_django",
    "nexus_cache",
    "nexus_tasks",
    "nexus_api",
    "listings",
    "bookings",
    "reviews",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # API-Version / Deprecation / Sunset also on responses made outside the view (304s).
    "nexus_api.middleware.VersionHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "nexus_travel.urls"
WSGI_APPLICATION = "nexus_travel.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


# --- database ------------------------------------------------------------------------
def database_from_url(url: str) -> dict[str, Any]:
    """postgres://user:pass@host:port/name or sqlite:///path (sqlite:// alone: the default file)."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # sqlite:///relative.db and sqlite:////absolute.db, as in SQLAlchemy URLs.
        path = unquote(parts.path)[1:]
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path or str(VAR_DIR / "db.sqlite3"),
            # The web process and the Celery worker share the file: wait for locks instead
            # of failing with "database is locked".
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    if parts.scheme in ("postgres", "postgresql", "pgsql"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")) or "postgres",
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
            "CONN_HEALTH_CHECKS": True,
            "TEST": {"NAME": "test_nexus_travel"},
        }
    raise ValueError(f"DATABASE_URL scheme {parts.scheme!r} is not supported; use postgres:// or sqlite://")


DATABASES = {"default": database_from_url(os.environ.get("DATABASE_URL") or "sqlite://")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache ---------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "travel"),
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    }
else:
    # A file-based cache is shared by the web process and the worker, unlike LocMem.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

NEXUS_CACHE = {"TIMEOUT": 300, "KEY_PREFIX": "travel"}

# --- Celery ----------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "") or "filesystem://"
if CELERY_BROKER_URL == "filesystem://":
    _queue_dir = VAR_DIR / "broker" / "queue"
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "broker" / "processed"),
        "control_folder": str(VAR_DIR / "broker" / "control"),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or (
    REDIS_URL or f"file://{(VAR_DIR / 'celery-results').as_posix()}"
)
if CELERY_BROKER_URL == "filesystem://" or CELERY_RESULT_BACKEND.startswith("file://"):
    # The embedded default keeps its broker and results in folders; kombu and Celery
    # expect them to exist.
    for folder in ("broker/queue", "broker/processed", "broker/control", "celery-results", "mail"):
        (VAR_DIR / folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Two beat processes (a rolling deploy) never both send a schedule: only the holder of
# the leader lock does.
CELERY_BEAT_SCHEDULER = "nexus_tasks.periodic:LeaderScheduler"

NEXUS_TASKS: dict[str, Any] = {
    "DISPATCH": "on_commit",
    # Unique locks and idempotency records: in Redis when there is one, else in the database.
    "STORE": "redis" if REDIS_URL else "database",
    "REDIS_URL": REDIS_URL or None,
    # What CeleryEmailBackend's worker task really sends with.
    "EMAIL_BACKEND": os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend"),
}

# --- API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_VERSIONING_CLASS": "nexus_api.versioning.NexusVersioning",
    "EXCEPTION_HANDLER": "nexus_api.errors.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "nexus_api.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "nexus_api.pagination.PageNumberPagination",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {"anon": "600/min", "user": "1200/min"},
}

NEXUS_API = {
    "VERSIONS": {
        "1": {
            "deprecated": "2026-06-01",
            "sunset": "2027-06-30",
            "link": "https://nexus.invalid/docs/api/v2-migration",
        },
        "2": {},
    },
    "DEFAULT_VERSION": "2",
    "PAGE_SIZE": 20,
    "MAX_PAGE_SIZE": 100,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Nexus Travel API",
    "DESCRIPTION": "Listings, bookings and reviews. Version 1 is deprecated; see the Sunset header.",
    "VERSION": "2",
    "SERVE_INCLUDE_SCHEMA": False,
}

GRAPHENE = {"SCHEMA": "nexus_travel.schema.schema"}

# --- email -----------------------------------------------------------------------------
# Mail leaves from a worker, after commit, with retries (nexus-tasks); the real backend is
# NEXUS_TASKS["EMAIL_BACKEND"].
EMAIL_BACKEND = "nexus_tasks.mail.CeleryEmailBackend"
EMAIL_FILE_PATH = str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = "bookings@nexus-travel.invalid"

# --- the rest --------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS: list[dict[str, str]] = []
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
