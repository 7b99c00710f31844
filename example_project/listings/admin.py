from __future__ import annotations

from django.contrib import admin

from listings.models import Amenity, Listing

admin.site.register(Amenity)


@admin.register(Listing)
class ListingAdmin(admin.ModelAdmin):
    list_display = ("title", "city", "price_per_night", "host", "is_active", "created_at")
    list_filter = ("city", "is_active")
    search_fields = ("title", "city")
