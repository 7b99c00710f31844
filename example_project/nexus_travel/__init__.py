"""Nexus Travel: the example project that uses nexus-cache, nexus-tasks and nexus-api."""

from __future__ import annotations

# Load the Celery app when Django starts so that shared_task picks it up.
from nexus_travel.celery import app as celery_app

__all__ = ["celery_app"]
