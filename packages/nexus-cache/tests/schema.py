from __future__ import annotations

import graphene
from graphene_django import DjangoObjectType

from nexus_cache import cached_resolver

from tests.models import Listing

CALLS: list[str] = []


class ListingType(DjangoObjectType):
    class Meta:
        model = Listing
        fields = ("id", "city", "price")

    price_label = graphene.String()

    @staticmethod
    @cached_resolver(timeout=60, public=True)
    def resolve_price_label(root: Listing, info: graphene.ResolveInfo) -> str:
        CALLS.append(f"label:{root.pk}")
        return f"{Listing.objects.get(pk=root.pk).price} NGN"


class Query(graphene.ObjectType):
    listings = graphene.List(ListingType, city=graphene.String(required=True))
    whoami = graphene.String()

    @staticmethod
    @cached_resolver(timeout=60)
    def resolve_listings(root: None, info: graphene.ResolveInfo, city: str) -> object:
        CALLS.append(f"listings:{city}")
        return Listing.objects.filter(city=city).order_by("id")

    @staticmethod
    @cached_resolver(timeout=60)
    def resolve_whoami(root: None, info: graphene.ResolveInfo) -> str:
        CALLS.append("whoami")
        return str(info.context.user)


schema = graphene.Schema(query=Query)
