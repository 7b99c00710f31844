"""Tasks nexus-tasks itself runs; found by the project's ``app.autodiscover_tasks()``."""

from __future__ import annotations

import django

from nexus_tasks.mail import send_email
from nexus_tasks.periodic import periodic_task

__all__ = ["relay_outbox", "send_email"]

if django.VERSION >= (6, 0):  # django.tasks exists: register the CeleryBackend's runner
    from nexus_tasks._django_tasks import run_django_task

    __all__ += ["run_django_task"]


@periodic_task(10.0, name="nexus_tasks.relay_outbox")
def relay_outbox(using: str = "default") -> dict[str, int]:
    """The relay as a beat task (every 10 s): publish what is pending, prune what is old.

    Rounds that overlap are safe: rows are claimed (``SKIP LOCKED`` on PostgreSQL).
    """
    from nexus_tasks import relay

    published = relay.drain(using, max_rounds=100)
    pruned = relay.prune(using)
    return {"published": published, "pruned": pruned}
