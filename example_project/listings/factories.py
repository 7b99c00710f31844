"""factory-boy factories for demo data and tests."""

from __future__ import annotations

import datetime as dt
import functools
import random
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from factory.django import DjangoModelFactory

from bookings.models import Booking
from listings.models import Amenity, Listing
from reviews.models import Review

CITIES = ["Lagos", "Lisbon", "Kyoto", "Lima", "Oslo", "Nairobi", "Hanoi", "Quito", "Tbilisi", "Accra"]
AMENITIES = ["wifi", "kitchen", "pool", "parking", "air conditioning", "washer", "workspace", "sea view"]


@functools.cache
def demo_password_hash() -> str:
    """Every demo user's password is "demo"; hashing it once keeps seeding fast."""
    return make_password("demo")


class UserFactory(DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.invalid")
    password = factory.LazyFunction(lambda: demo_password_hash())


class AmenityFactory(DjangoModelFactory):
    class Meta:
        model = Amenity
        django_get_or_create = ("name",)

    name = factory.Iterator(AMENITIES)


class ListingFactory(DjangoModelFactory):
    class Meta:
        model = Listing
        skip_postgeneration_save = True

    host = factory.SubFactory(UserFactory)
    title = factory.Faker("sentence", nb_words=4)
    description = factory.Faker("paragraph")
    city = factory.Iterator(CITIES)
    price_per_night = factory.LazyFunction(lambda: Decimal(random.randint(30, 400)))
    max_guests = factory.LazyFunction(lambda: random.randint(1, 8))

    @factory.post_generation
    def amenities(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if not create:
            return
        if extracted is not None:
            self.amenities.set(extracted)  # type: ignore[attr-defined]


class BookingFactory(DjangoModelFactory):
    class Meta:
        model = Booking

    listing = factory.SubFactory(ListingFactory)
    guest = factory.SubFactory(UserFactory)
    check_in = factory.LazyFunction(lambda: dt.date.today() + dt.timedelta(days=random.randint(1, 90)))
    check_out = factory.LazyAttribute(lambda b: b.check_in + dt.timedelta(days=random.randint(1, 10)))
    guests = 1
    total_price = factory.LazyAttribute(lambda b: b.listing.price_per_night * (b.check_out - b.check_in).days)


class ReviewFactory(DjangoModelFactory):
    class Meta:
        model = Review

    listing = factory.SubFactory(ListingFactory)
    author = factory.SubFactory(UserFactory)
    rating = factory.LazyFunction(lambda: random.randint(1, 5))
    body = factory.Faker("sentence")
