"""Where the real services are, whether they answer, and Django settings built from them."""

from __future__ import annotations

import enum
import functools
import hashlib
import os
import socket
from typing import Any
from urllib.parse import unquote, urlsplit

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"
DEFAULT_MEMCACHED_URL = "memcached://127.0.0.1:11211"


class Service(enum.Enum):
    POSTGRES = "postgres"
    REDIS = "redis"
    RABBITMQ = "rabbitmq"
    MEMCACHED = "memcached"


def services_required() -> bool:
    """CI sets NEXUS_REQUIRE_SERVICES=1 so that a missing service fails instead of skipping."""
    return os.environ.get("NEXUS_REQUIRE_SERVICES", "") not in ("", "0", "false", "no")


def database_url() -> str:
    # An empty DATABASE_URL counts as unset: shells and CI matrices often export "".
    return os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def redis_url() -> str:
    return os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL


#: CELERY_BROKER_URL / CELERY_RESULT_BACKEND as the environment gave them before the plugin
#: took them out of os.environ (see ``isolate_celery_environment``).
_celery_environment: dict[str, str] = {}


def isolate_celery_environment() -> None:
    """Take CELERY_BROKER_URL and CELERY_RESULT_BACKEND out of the process environment.

    Celery gives these variables precedence over every app's own configuration
    (``Settings.broker_url`` reads the environment first), so left in place they would point
    every test app and every worker subprocess at one broker, whatever the test configured:
    a test that routes Redis through a proxy to cut it would still reach RabbitMQ. The
    values stay available through ``rabbitmq_url()``.
    """
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        value = os.environ.pop(name, None)
        if value:
            _celery_environment[name] = value


def rabbitmq_url() -> str:
    """The AMQP broker URL; CELERY_BROKER_URL wins only when it is an AMQP URL."""
    broker = _celery_environment.get("CELERY_BROKER_URL") or os.environ.get("CELERY_BROKER_URL") or ""
    if broker.startswith(("amqp://", "amqps://", "pyamqp://")):
        return broker
    return os.environ.get("RABBITMQ_URL") or DEFAULT_RABBITMQ_URL


def memcached_url() -> str:
    return os.environ.get("MEMCACHED_URL") or DEFAULT_MEMCACHED_URL


def memcached_location() -> str:
    """``host:port`` as Django's PyMemcacheCache LOCATION expects it."""
    parts = urlsplit(memcached_url())
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or 11211}"


def postgres_configured() -> bool:
    """True unless the suite was pointed at SQLite on purpose (DATABASE_URL=sqlite://...)."""
    return not database_url().startswith("sqlite:")


def service_url(service: Service) -> str:
    return {
        Service.POSTGRES: database_url,
        Service.REDIS: redis_url,
        Service.RABBITMQ: rabbitmq_url,
        Service.MEMCACHED: memcached_url,
    }[service]()


_DEFAULT_PORTS = {
    "postgres": 5432,
    "postgresql": 5432,
    "redis": 6379,
    "rediss": 6379,
    "amqp": 5672,
    "amqps": 5671,
    "pyamqp": 5672,
    "memcached": 11211,
}


@functools.cache
def reachable(url: str, timeout: float = 1.0) -> bool:
    """A TCP connect is enough to decide skip-or-run; the test itself proves the protocol."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _test_database_suffix() -> str:
    """Parallel tox environments (and helpers) must never share a test database."""
    # TOX_ENV_DIR differs between checkouts and tox work dirs, so two runs of the same
    # environment on one machine (a developer and CI, say) do not drop each other's database.
    env = os.environ.get("TOX_ENV_DIR") or os.environ.get("TOX_ENV_NAME") or f"pid{os.getpid()}"
    return hashlib.blake2s(env.encode(), digest_size=4).hexdigest()


def database_settings(label: str, *, sqlite_path: str | None = None) -> dict[str, Any]:
    """DATABASES["default"] for a test settings module.

    PostgreSQL when DATABASE_URL says so and the server answers; SQLite when DATABASE_URL
    is ``sqlite://`` or when PostgreSQL is unreachable and services are not required (the
    PostgreSQL-only tests are then skipped by the plugin with a one-line reason).
    """
    url = database_url()
    if postgres_configured() and (reachable(url) or services_required()):
        parts = urlsplit(url)
        name = unquote(parts.path.lstrip("/")) or "test"
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or "postgres"),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "127.0.0.1",
            "PORT": str(parts.port or 5432),
            "CONN_MAX_AGE": 0,
            "TEST": {"NAME": f"test_{label}_{_test_database_suffix()}"},
        }
    # Django gives an in-memory SQLite test database shared cache mode, so threads in a
    # test see the same data.
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": sqlite_path or ":memory:"}
