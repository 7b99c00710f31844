"""Guests' reviews of listings."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from listings.models import Listing
from nexus_cache.models import CachedManager


class Review(models.Model):
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="reviews")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviews")
    rating = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CachedManager()

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["listing", "-created_at", "-id"], name="review_listing_created_id")]
        constraints = [models.UniqueConstraint(fields=["listing", "author"], name="one_review_per_guest")]

    def __str__(self) -> str:
        return f"{self.rating}/5 for {self.listing_id}"
