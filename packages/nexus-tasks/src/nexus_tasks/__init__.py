"""nexus-tasks: Celery tasks for Django that are never lost, never run early, never run twice."""

from __future__ import annotations

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
