from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from nexus_cache import cached, invalidate

from tests.models import Listing

pytestmark = pytest.mark.django_db(transaction=True)


def test_queryset_hit_and_invalidation() -> None:
    a = Listing.objects.create(city="Lagos", price=1)
    qs = Listing.objects.filter(city="Lagos").cached(timeout=60)
    assert [x.pk for x in qs] == [a.pk]
    with CaptureQueriesContext(connection) as ctx:
        assert [x.pk for x in Listing.objects.filter(city="Lagos").cached()] == [a.pk]
    assert len(ctx) == 0
    b = Listing.objects.create(city="Lagos", price=2)
    assert [x.pk for x in Listing.objects.filter(city="Lagos").cached()] == [a.pk, b.pk]


def test_function() -> None:
    calls = []

    @cached(timeout=60)
    def total(city: str) -> int:
        calls.append(city)
        return sum(x.price for x in Listing.objects.filter(city=city))

    Listing.objects.create(city="Lagos", price=1)
    assert total("Lagos") == 1
    assert total("Lagos") == 1
    assert len(calls) == 1
    Listing.objects.filter(city="Lagos").update(price=5)
    assert total("Lagos") == 5
    invalidate(Listing)
    assert total("Lagos") == 5
    assert len(calls) == 3
