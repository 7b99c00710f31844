from __future__ import annotations

from django.contrib import admin

from reviews.models import Review


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ("listing", "author", "rating", "created_at")
