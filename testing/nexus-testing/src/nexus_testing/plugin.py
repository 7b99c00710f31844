"""pytest plugin: service markers that skip (or fail under NEXUS_REQUIRE_SERVICES=1), and
fixtures for real-service tests."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from nexus_testing.proxy import TcpProxy
from nexus_testing.services import (
    Service,
    isolate_celery_environment,
    postgres_configured,
    rabbitmq_url,
    reachable,
    redis_url,
    service_url,
    services_required,
)

# At import, before any conftest or Django settings module runs (see the docstring).
isolate_celery_environment()

_MARKERS = {
    "requires_postgres": Service.POSTGRES,
    "requires_redis": Service.REDIS,
    "requires_rabbitmq": Service.RABBITMQ,
    "requires_memcached": Service.MEMCACHED,
}


def pytest_configure(config: pytest.Config) -> None:
    for marker, service in _MARKERS.items():
        config.addinivalue_line(
            "markers",
            f"{marker}: needs a reachable {service.value}; skipped when it is not, "
            "failed instead under NEXUS_REQUIRE_SERVICES=1",
        )


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = []
    for service in Service:
        url = service_url(service)
        if service is Service.POSTGRES and not postgres_configured():
            state = "not used (DATABASE_URL selects SQLite)"
        else:
            state = "reachable" if reachable(url) else "UNREACHABLE"
        lines.append(f"nexus services: {service.value:<8} {_redact(url)} {state}")
    lines.append(f"nexus services: required={services_required()}")
    return lines


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A suite configured for SQLite deliberately leaves the PostgreSQL-only tests out.

    They are deselected rather than skipped: nothing is missing, the run simply covers the
    other database (the postgres tox factor runs them).
    """
    if postgres_configured():
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        (drop if item.get_closest_marker("requires_postgres") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker, service in _MARKERS.items():
        if item.get_closest_marker(marker) is None:
            continue
        url = service_url(service)
        if reachable(url):
            continue
        reason = f"{service.value} unreachable at {_redact(url)}"
        if services_required():
            pytest.fail(f"{reason} (NEXUS_REQUIRE_SERVICES=1)", pytrace=False)
        pytest.skip(reason)


def _redact(url: str) -> str:
    """Service URLs may carry passwords; reports must not."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else f"{scheme}://{user}@{host}"


@pytest.fixture
def unique_namespace() -> str:
    """A random prefix for keys and queue names: runs sharing a server never collide."""
    return f"nxt{secrets.token_hex(4)}"


@pytest.fixture
def redis_service_url() -> str:
    return redis_url()


@pytest.fixture
def rabbitmq_service_url() -> str:
    return rabbitmq_url()


@pytest.fixture
def tcp_proxy() -> Iterator[type[TcpProxy]]:
    """Factory for proxies in front of real services; every proxy is closed afterwards.

    Usage: ``proxy = tcp_proxy.for_url(redis_url(), 6379).start()`` then
    ``proxy.url_through(url)`` for the client, ``proxy.cut()`` / ``proxy.restore()``.
    """
    created: list[TcpProxy] = []

    class _Tracked(TcpProxy):
        def start(self) -> TcpProxy:
            if self not in created:
                created.append(self)
            return super().start()

    yield _Tracked
    for proxy in created:
        proxy.close()
