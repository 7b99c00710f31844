"""Django app configuration for nexus-cache."""

from __future__ import annotations

from django.apps import AppConfig


class NexusCacheConfig(AppConfig):
    name = "nexus_cache"
    label = "nexus_cache"
    verbose_name = "Nexus cache"

    def ready(self) -> None:
        # Registers the system checks and the setting_changed receiver, and puts the
        # statement observer on every database connection (present and future).
        from nexus_cache import _tracking, checks, conf  # noqa: F401

        _tracking.install_all()
