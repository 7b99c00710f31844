from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from listings.factories import ListingFactory, UserFactory
from listings.models import Listing


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def host(db: None) -> User:
    return UserFactory(username="host")


@pytest.fixture
def guest(db: None) -> User:
    return UserFactory(username="guest")


@pytest.fixture
def listings(host: User) -> list[Listing]:
    return [ListingFactory(host=host, city="Lagos" if i % 2 else "Lisbon") for i in range(30)]
