"""The ``cached`` count policy through nexus-cache: hits run no query, writes invalidate."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import modify_settings

from nexus_api.keyset import _count, count_rows

from tests.keyset_models import KsItem

T0 = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)


@pytest.fixture
def with_nexus_cache(unique_namespace: str) -> Iterator[None]:
    with modify_settings(INSTALLED_APPS={"append": "nexus_cache"}):
        from django.test import override_settings

        with override_settings(NEXUS_CACHE={"KEY_PREFIX": unique_namespace}):
            _count._nexus_cache_counter = None
            yield
    _count._nexus_cache_counter = None


@pytest.mark.django_db(transaction=True)
def test_cached_count_through_nexus_cache(with_nexus_cache: None, django_assert_num_queries: Any) -> None:
    KsItem.objects.create(name="a", created_at=T0)
    queryset = KsItem.objects.filter(name="a")
    assert count_rows(queryset, "cached") == 1
    assert _count._nexus_cache_counter is not None
    with django_assert_num_queries(0):
        assert count_rows(queryset, "cached") == 1
    KsItem.objects.create(name="a", created_at=T0)
    assert count_rows(queryset, "cached") == 2
    assert count_rows(KsItem.objects.filter(name="b"), "cached") == 0


@pytest.mark.django_db
def test_cached_count_falls_back_to_django_cache(django_assert_num_queries: Any) -> None:
    _count._nexus_cache_counter = None
    KsItem.objects.create(name="zz-fallback", created_at=T0)
    queryset = KsItem.objects.filter(name="zz-fallback")
    assert count_rows(queryset, "cached") == 1
    with django_assert_num_queries(0):
        assert count_rows(queryset, "cached") == 1
