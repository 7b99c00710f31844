"""Models for the keyset pagination tests (imported by tests/models.py)."""

from __future__ import annotations

import uuid

from django.db import models


class KsHost(models.Model):
    name = models.CharField(max_length=40, null=True)

    class Meta:
        app_label = "tests"


class KsItem(models.Model):
    name = models.CharField(max_length=40)
    rank = models.IntegerField(null=True)
    score = models.DecimalField(max_digits=8, decimal_places=2, null=True)
    created_at = models.DateTimeField()
    day = models.DateField(null=True)
    uid = models.UUIDField(default=uuid.uuid4, unique=True)
    host = models.ForeignKey(KsHost, null=True, blank=True, on_delete=models.SET_NULL, related_name="items")

    class Meta:
        app_label = "tests"
        indexes = [
            models.Index(fields=["-created_at", "id"], name="ks_item_created_id"),
            models.Index(fields=["name", "id"], name="ks_item_name_id"),
        ]

    def __str__(self) -> str:
        return self.name


class KsOrdered(models.Model):
    """A model whose Meta.ordering is the default for keyset paging."""

    title = models.CharField(max_length=40)
    position = models.IntegerField()

    class Meta:
        app_label = "tests"
        ordering = ["-position"]

    def __str__(self) -> str:
        return self.title
