"""Demo data at any size: `manage.py seed --listings 100000` works as well as the default."""

from __future__ import annotations

import random
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from listings.factories import AMENITIES, AmenityFactory, ListingFactory, UserFactory
from listings.models import Listing
from reviews.models import Review

REVIEW_LINES = [
    "Spotless and quiet.",
    "Great host, would stay again.",
    "Smaller than the photos suggest.",
    "Perfect location for the old town.",
    "The wifi kept dropping.",
]


class Command(BaseCommand):
    help = "Create demo users, listings, reviews and bookings with factory-boy."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--listings", type=int, default=200)
        parser.add_argument("--users", type=int, default=20)
        parser.add_argument("--reviews", type=int, default=300)
        parser.add_argument("--batch", type=int, default=2000, help="rows per bulk_create")
        parser.add_argument("--seed", type=int, default=42, help="random seed, for repeatable data")
        parser.add_argument("--if-empty", action="store_true", help="do nothing when listings already exist")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["if_empty"] and Listing.objects.exists():
            self.stdout.write("listings exist; nothing to seed")
            return
        random.seed(options["seed"])
        User = get_user_model()
        with transaction.atomic():
            demo, created = User.objects.get_or_create(
                username="demo", defaults={"email": "demo@example.invalid"}
            )
            if created:
                demo.set_password("demo")
                demo.save()
            users = [demo] + [UserFactory() for _ in range(options["users"])]
            amenities = [AmenityFactory(name=name) for name in AMENITIES]
        remaining = options["listings"]
        while remaining > 0:
            size = min(options["batch"], remaining)
            batch = [ListingFactory.build(host=random.choice(users)) for _ in range(size)]
            with transaction.atomic():
                created_listings = Listing.objects.bulk_create(batch)
                through = Listing.amenities.through
                through.objects.bulk_create(
                    [
                        through(listing_id=listing.pk, amenity_id=amenity.pk)
                        for listing in created_listings
                        for amenity in random.sample(amenities, k=random.randint(1, 4))
                    ]
                )
            remaining -= size
        listing_ids = list(Listing.objects.values_list("pk", flat=True)[: max(options["reviews"], 1)])
        pairs = {(random.choice(listing_ids), random.choice(users).pk) for _ in range(options["reviews"])}
        Review.objects.bulk_create(
            [
                Review(
                    listing_id=listing_id,
                    author_id=author_id,
                    rating=random.randint(1, 5),
                    body=random.choice(REVIEW_LINES),
                )
                for listing_id, author_id in sorted(pairs)
            ],
            ignore_conflicts=True,
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"seeded {options['listings']} listings, {len(users)} users, {len(pairs)} reviews "
                "(log in as demo / demo)"
            )
        )
