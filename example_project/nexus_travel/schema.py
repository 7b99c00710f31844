"""GraphQL at /graphql/: relay connections on nexus-api's keyset engine, resolvers cached
by nexus-cache."""

from __future__ import annotations

from typing import Any

import graphene
from django.db.models import QuerySet
from graphene_django import DjangoObjectType

from listings.models import Amenity, Listing
from nexus_api.graphql import KeysetConnectionField
from nexus_cache import cached_resolver
from reviews.models import Review
from reviews.ratings import listing_rating


class AmenityType(DjangoObjectType):
    class Meta:
        model = Amenity
        fields = ("name",)


class ReviewNode(DjangoObjectType):
    author = graphene.String()

    class Meta:
        model = Review
        interfaces = (graphene.relay.Node,)
        fields = ("rating", "body", "created_at")

    @staticmethod
    def resolve_author(review: Review, info: Any) -> str:
        return review.author.username


class ListingNode(DjangoObjectType):
    host = graphene.String()
    rating = graphene.Float()
    review_count = graphene.Int()
    reviews = KeysetConnectionField(ReviewNode, ordering=("-created_at",))

    class Meta:
        model = Listing
        interfaces = (graphene.relay.Node,)
        fields = ("title", "description", "city", "price_per_night", "max_guests", "amenities", "created_at")

    @staticmethod
    def resolve_host(listing: Listing, info: Any) -> str:
        return listing.host.username

    @staticmethod
    def resolve_rating(listing: Listing, info: Any) -> float | None:
        return listing_rating(listing.pk)["average"]

    @staticmethod
    def resolve_review_count(listing: Listing, info: Any) -> int:
        return int(listing_rating(listing.pk)["count"])

    @staticmethod
    def resolve_reviews(listing: Listing, info: Any, **kwargs: Any) -> QuerySet[Review]:
        return Review.objects.filter(listing=listing).select_related("author")


class Query(graphene.ObjectType):
    listings = KeysetConnectionField(ListingNode, ordering=("-created_at",), city=graphene.String())
    listing = graphene.Field(ListingNode, id=graphene.Int(required=True))
    cities = graphene.List(graphene.NonNull(graphene.String), required=True)

    @staticmethod
    def resolve_listings(root: Any, info: Any, city: str | None = None, **kwargs: Any) -> QuerySet[Listing]:
        qs = Listing.objects.filter(is_active=True).select_related("host")
        return qs.filter(city=city) if city else qs

    @staticmethod
    @cached_resolver(timeout=60, public=True)
    def resolve_listing(root: Any, info: Any, id: int) -> Listing | None:
        return Listing.objects.filter(pk=id, is_active=True).select_related("host").first()

    @staticmethod
    @cached_resolver(timeout=300, public=True)
    def resolve_cities(root: Any, info: Any) -> list[str]:
        return sorted(set(Listing.objects.filter(is_active=True).values_list("city", flat=True)))


schema = graphene.Schema(query=Query)
