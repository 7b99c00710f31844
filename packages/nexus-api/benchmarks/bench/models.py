from __future__ import annotations

from django.db import models


class Event(models.Model):
    created_at = models.DateTimeField()
    title = models.CharField(max_length=64)
    city = models.CharField(max_length=32)
    price = models.IntegerField()
    rank = models.IntegerField(null=True)

    class Meta:
        app_label = "bench"
        indexes = [models.Index(fields=["-created_at", "id"], name="bench_event_created_id")]

    def __str__(self) -> str:
        return self.title
