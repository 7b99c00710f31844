from __future__ import annotations

from django.db import models


class Event(models.Model):
    """A side effect of a test task: tests count these to prove run-once behaviour."""

    tag = models.CharField(max_length=100, db_index=True)
    kind = models.CharField(max_length=200, default="ran")
    created = models.DateTimeField(auto_now_add=True)
