"""Django app configuration for nexus-tasks."""

from __future__ import annotations

from django.apps import AppConfig


class NexusTasksConfig(AppConfig):
    name = "nexus_tasks"
    label = "nexus_tasks"
    verbose_name = "Nexus tasks"

    def ready(self) -> None:
        # Registers the system checks, the setting_changed receiver and the library's own
        # tasks (the email sender and the relay), which workers must know by name.
        from nexus_tasks import checks, conf, tasks  # noqa: F401
