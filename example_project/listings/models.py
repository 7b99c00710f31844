"""Places to stay: a host's listings in a city, with amenities."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from nexus_cache.models import CachedManager


class Amenity(models.Model):
    name = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ("name",)
        verbose_name_plural = "amenities"

    def __str__(self) -> str:
        return self.name


class Listing(models.Model):
    host = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="listings")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    city = models.CharField(max_length=100)
    price_per_night = models.DecimalField(
        max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("1.00"))]
    )
    max_guests = models.PositiveSmallIntegerField(default=2)
    amenities = models.ManyToManyField(Amenity, blank=True, related_name="listings")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Listing.objects.filter(...).cached() evaluates through nexus-cache; every write path
    # (save, update(), bulk_create, m2m, raw SQL) invalidates it after commit.
    objects = CachedManager()

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            # Keyset pages: newest first, optionally within a city.
            models.Index(fields=["-created_at", "-id"], name="listing_created_id"),
            models.Index(fields=["city", "-created_at", "-id"], name="listing_city_created_id"),
            models.Index(fields=["price_per_night", "id"], name="listing_price_id"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.city})"
