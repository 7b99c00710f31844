from __future__ import annotations

import pytest
from django.core.management import call_command

from listings.models import Listing
from reviews.models import Review

pytestmark = pytest.mark.django_db


def test_seed_makes_demo_data_and_is_idempotent_with_if_empty() -> None:
    call_command("seed", listings=50, users=3, reviews=20, batch=16)
    assert Listing.objects.count() == 50
    assert Listing.objects.filter(amenities__isnull=False).distinct().count() == 50
    assert 0 < Review.objects.count() <= 20
    call_command("seed", listings=50, if_empty=True)
    assert Listing.objects.count() == 50
