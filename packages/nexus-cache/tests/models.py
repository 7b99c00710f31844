from __future__ import annotations

from django.db import models

from nexus_cache.models import CachedManager, CachedQuerySet, CacheInvalidationMixin


class Host(CacheInvalidationMixin):
    name = models.CharField(max_length=50)


class Amenity(models.Model):
    name = models.CharField(max_length=50)

    objects = CachedManager()


class Listing(models.Model):
    host = models.ForeignKey(Host, null=True, on_delete=models.CASCADE, related_name="listings")
    city = models.CharField(max_length=50, db_index=True)
    price = models.IntegerField(default=0)
    amenities = models.ManyToManyField(Amenity, related_name="listings")

    objects = CachedManager()

    class Meta:
        ordering = ["id"]


class Review(models.Model):
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="reviews")
    rating = models.IntegerField()

    objects = CachedManager()


class Place(models.Model):
    name = models.CharField(max_length=50)

    objects = CachedManager()


class Hotel(Place):
    stars = models.IntegerField(default=3)

    objects = CachedManager()


class Tag(models.Model):
    name = models.CharField(max_length=20)

    objects = CachedQuerySet.as_manager()
