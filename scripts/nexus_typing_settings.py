"""Minimal Django settings for mypy's django-stubs plugin (type checking only)."""

SECRET_KEY = "typing-only"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "nexus_cache",
    "nexus_tasks",
    "nexus_api",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
USE_TZ = True
