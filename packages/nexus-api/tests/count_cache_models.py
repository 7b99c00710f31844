"""A model on nexus-cache's ``CachedManager``, for the ``cached`` count policy's
``CachedQuerySet`` branch (imported by tests/models.py when nexus-cache is installed)."""

from __future__ import annotations

from django.db import models

from nexus_cache.models import CachedManager


class CcItem(models.Model):
    name = models.CharField(max_length=20)

    objects = CachedManager()

    class Meta:
        app_label = "tests"
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name
