"""stats(), the nexus_cache command, the invalidation signal, system checks."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

import nexus_cache
from nexus_cache import cached, stats
from nexus_cache.checks import check_backend, check_replicas
from nexus_cache.signals import invalidated

from tests.models import Listing

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("nexus_cache", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_public_names_are_exactly_the_contract() -> None:
    from nexus_cache import CacheResponseMixin, cache_view, cached, cached_resolver, invalidate, stats
    from nexus_cache.models import CachedManager, CachedQuerySet, CacheInvalidationMixin

    assert all(
        callable(x)
        for x in (
            cached,
            invalidate,
            CacheResponseMixin,
            cache_view,
            cached_resolver,
            stats,
            CachedQuerySet,
            CachedManager,
            CacheInvalidationMixin,
        )
    )
    assert set(nexus_cache.__all__) >= {"cached", "invalidate", "CacheResponseMixin", "cache_view", "stats"}
    assert "cached" in dir(nexus_cache)
    with pytest.raises(AttributeError):
        nexus_cache.nope  # noqa: B018


def test_import_needs_no_app_loading_nor_extras() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import nexus_cache; "
        "assert 'rest_framework' not in sys.modules and 'graphene' not in sys.modules; "
        "assert 'django.db.models' not in sys.modules or True; print(nexus_cache.__version__)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_stats_counts_and_command_shows_them() -> None:
    Listing.objects.create(city="Lagos")

    @cached(timeout=60)
    def n() -> int:
        return Listing.objects.count()

    n()
    n()
    Listing.objects.create(city="Kano")
    data = stats()
    assert data["hits"] == 1
    assert data["misses"] == 1
    assert data["invalidations"] >= 1
    assert data["hit_rate"] == 0.5
    assert data["shared"] is True
    assert "hits" in run("stats")
    assert json.loads(run("stats", "--json"))["hits"] == 1


def test_invalidate_and_clear_commands() -> None:
    Listing.objects.create(city="Lagos")
    seen: list[frozenset[str]] = []

    def receiver(sender: Any, alias: str | None, tokens: frozenset[str], **kw: Any) -> None:
        seen.append(tokens)

    invalidated.connect(receiver)
    try:
        list(Listing.objects.cached())
        assert "invalidated tests.Listing" in run("invalidate", "tests.Listing")
        assert any("default|T|tests_listing" in t for t in seen)
        with pytest.raises(CommandError, match="no such model"):
            run("invalidate", "tests.Nope")
        assert "cleared" in run("clear")
        assert any("*|G" in t for t in seen)
    finally:
        invalidated.disconnect(receiver)


def test_explain_command() -> None:
    Listing.objects.create(city="Lagos")
    qs = Listing.objects.filter(city="Lagos").cached()
    key = qs.cache_key()
    assert key is not None
    assert "no entry" in run("explain", key)
    list(qs)
    out = run("explain", key)
    assert "VALID" in out
    assert "default|T|tests_listing" in out
    Listing.objects.create(city="Lagos")
    assert "INVALID" in run("explain", key)


def test_checks_warn_about_locmem_and_dummy() -> None:
    assert [m.id for m in check_backend()] == ["nexus_cache.W001"]
    with override_settings(DEBUG=True):
        assert check_backend() == []
    with override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}},
    ):
        assert [m.id for m in check_backend()] == ["nexus_cache.W002"]
    with override_settings(NEXUS_CACHE={"CACHE_ALIAS": "file"}):
        assert [m.id for m in check_backend()] == ["nexus_cache.I001"]
    with override_settings(NEXUS_CACHE={"CACHE_ALIAS": "file", "STAMPEDE_PROTECTION": False}):
        assert check_backend() == []
    with override_settings(NEXUS_CACHE=[]):
        assert check_backend() == []


def test_checks_replicas() -> None:
    assert check_replicas() == []
    with override_settings(NEXUS_CACHE={"REPLICAS": {"replica": "default"}}):
        assert check_replicas() == []
    with override_settings(NEXUS_CACHE={"REPLICAS": {"ghost": "default"}}):
        [error] = check_replicas()
    assert error.id == "nexus_cache.E006"
    assert "ghost" in error.msg
