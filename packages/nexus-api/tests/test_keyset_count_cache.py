"""The ``cached`` count policy through nexus-cache: hits run no query, writes invalidate.

Two branches: a queryset on nexus-cache's ``CachedManager`` is counted with its own
``.cached().count()``; any other queryset goes through a nexus-cache cached function. Both
depend on the tables the COUNT reads, so a committed write invalidates the count.
"""

from __future__ import annotations

import datetime
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections, transaction
from django.test import modify_settings
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from nexus_api.keyset import _count, count_rows
from nexus_api.pagination import KeysetPagination, PageNumberPagination

from tests.keyset_models import KsItem

CcItem = pytest.importorskip("tests.count_cache_models").CcItem

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


@pytest.mark.django_db(transaction=True)
def test_cached_queryset_counts_through_its_own_cache(
    with_nexus_cache: None, django_assert_num_queries: Any
) -> None:
    CcItem.objects.bulk_create([CcItem(name="a"), CcItem(name="a"), CcItem(name="b")])
    queryset = CcItem.objects.filter(name="a")
    with django_assert_num_queries(1):
        assert count_rows(queryset, "cached") == 2
    with django_assert_num_queries(0):
        assert count_rows(queryset, "cached") == 2
    assert count_rows(CcItem.objects.filter(name="b"), "cached") == 1
    # Served by CachedQuerySet.cached().count(), not by the cached function for plain querysets.
    assert _count._nexus_cache_counter is None


@pytest.mark.django_db(transaction=True)
def test_cached_queryset_count_is_invalidated_after_commit_only(
    with_nexus_cache: None, django_assert_num_queries: Any
) -> None:
    CcItem.objects.create(name="a")
    queryset = CcItem.objects.filter(name="a")
    assert count_rows(queryset, "cached") == 1
    written, read = threading.Event(), threading.Event()
    seen_by_other_request: list[int] = []

    def other_request() -> None:
        try:
            assert written.wait(10)
            seen_by_other_request.append(count_rows(CcItem.objects.filter(name="a"), "cached"))
        finally:
            connections.close_all()
            read.set()

    thread = threading.Thread(target=other_request)
    thread.start()
    with transaction.atomic():
        CcItem.objects.create(name="a")
        # The writing transaction reads its own write (the cache is bypassed, not filled)...
        assert count_rows(queryset, "cached") == 2
        written.set()
        assert read.wait(10)
    thread.join(10)
    # ...while another request, before the commit, still gets the committed count.
    assert seen_by_other_request == [1]
    # After the commit the old count is never served again, and the new one is cached.
    with django_assert_num_queries(1):
        assert count_rows(queryset, "cached") == 2
    with django_assert_num_queries(0):
        assert count_rows(queryset, "cached") == 2

    def write_then_fail() -> None:
        with transaction.atomic():
            CcItem.objects.create(name="a")
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert count_rows(queryset, "cached") == 2


@pytest.mark.django_db(transaction=True)
def test_paginators_count_cached_querysets(with_nexus_cache: None, django_assert_num_queries: Any) -> None:
    CcItem.objects.bulk_create(CcItem(name=f"n{i}") for i in range(7))
    request = Request(APIRequestFactory().get("/items/"))

    class CachedKeyset(KeysetPagination):
        page_size = 3
        count_policy = "cached"

    class CachedPages(PageNumberPagination):
        page_size = 3
        count_policy = "cached"

    for paginator_class in (CachedKeyset, CachedPages):
        paginator = paginator_class()
        paginator.paginate_queryset(CcItem.objects.all(), request)
        assert paginator.count == 7
        with django_assert_num_queries(1):  # the page only: the count is a cache hit
            paginator_class().paginate_queryset(CcItem.objects.all(), request)
    CcItem.objects.create(name="late")
    for paginator_class in (CachedKeyset, CachedPages):
        paginator = paginator_class()
        paginator.paginate_queryset(CcItem.objects.all(), request)
        assert paginator.count == 8


@pytest.mark.django_db
def test_cached_queryset_without_nexus_cache_app_uses_the_django_cache(
    django_assert_num_queries: Any,
) -> None:
    # nexus-cache importable but not in INSTALLED_APPS: nothing would invalidate its cache,
    # so the count lives in Django's cache for COUNT_CACHE_TIMEOUT seconds instead.
    name = uuid.uuid4().hex[:20]
    CcItem.objects.create(name=name)
    queryset = CcItem.objects.filter(name=name)
    assert count_rows(queryset, "cached") == 1
    with django_assert_num_queries(0):
        assert count_rows(queryset, "cached") == 1


@pytest.mark.django_db(transaction=True)
def test_count_cache_timeout_setting_is_followed(with_nexus_cache: None, settings: Any) -> None:
    queryset = KsItem.objects.filter(name="timeout")
    assert count_rows(queryset, "cached") == 0
    first = _count._nexus_cache_counter
    settings.NEXUS_API = {"COUNT_CACHE_TIMEOUT": 5}
    assert count_rows(queryset, "cached") == 0
    assert _count._nexus_cache_counter is not first
    assert _count._nexus_cache_counter_timeout == 5
