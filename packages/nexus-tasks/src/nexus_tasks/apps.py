"""Django app configuration for nexus-tasks."""

from __future__ import annotations

from django.apps import AppConfig


class NexusTasksConfig(AppConfig):
    name = "nexus_tasks"
    label = "nexus_tasks"
    verbose_name = "Nexus tasks"

    def ready(self) -> None:
        # Registers the system checks and the setting_changed receiver.
        from nexus_tasks import checks, conf  # noqa: F401
