"""Shared, unpublished test helpers for the Nexus packages (a pytest plugin)."""

from __future__ import annotations

from nexus_testing.proxy import TcpProxy
from nexus_testing.services import (
    Service,
    database_settings,
    database_url,
    memcached_location,
    memcached_url,
    postgres_configured,
    rabbitmq_url,
    reachable,
    redis_url,
    services_required,
)

__all__ = [
    "Service",
    "TcpProxy",
    "database_settings",
    "database_url",
    "memcached_location",
    "memcached_url",
    "postgres_configured",
    "rabbitmq_url",
    "reachable",
    "redis_url",
    "services_required",
]
