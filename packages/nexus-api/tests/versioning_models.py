"""Models for the versioning tests (imported by tests/models.py)."""

from __future__ import annotations

from decimal import Decimal

from django.db import models


class VHost(models.Model):
    display_name = models.CharField(max_length=40)

    class Meta:
        app_label = "tests"


class VListing(models.Model):
    name = models.CharField(max_length=40)
    price = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(max_length=3, default="EUR")
    instant_book = models.BooleanField(default=False)
    host = models.ForeignKey(VHost, on_delete=models.CASCADE, related_name="listings")

    class Meta:
        app_label = "tests"
        ordering = ["id"]


class VReview(models.Model):
    listing = models.ForeignKey(VListing, on_delete=models.CASCADE, related_name="reviews")
    rating = models.IntegerField()
    text = models.CharField(max_length=200, default="")

    class Meta:
        app_label = "tests"
        ordering = ["id"]
