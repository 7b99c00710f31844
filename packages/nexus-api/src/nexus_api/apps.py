"""Django app configuration for nexus-api."""

from __future__ import annotations

from django.apps import AppConfig


class NexusApiConfig(AppConfig):
    name = "nexus_api"
    label = "nexus_api"
    verbose_name = "Nexus api"

    def ready(self) -> None:
        # Registers the system checks and the setting_changed receiver.
        from nexus_api import checks, conf  # noqa: F401
