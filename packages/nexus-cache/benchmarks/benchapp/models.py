from __future__ import annotations

from django.db import models

from nexus_cache.models import CachedQuerySet


class Listing(models.Model):
    city = models.CharField(max_length=20, db_index=True)
    price = models.IntegerField(db_index=True)
    title = models.CharField(max_length=100)
    rating = models.FloatField(default=0)

    objects = CachedQuerySet.as_manager()

    class Meta:
        app_label = "benchapp"

    def __str__(self) -> str:
        return self.title
