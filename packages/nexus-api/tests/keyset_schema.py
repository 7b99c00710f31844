"""A graphene schema over the keyset test models."""

from __future__ import annotations

from typing import Any

import graphene
from graphene_django import DjangoObjectType

from nexus_api.graphql import KeysetConnectionField

from tests.keyset_models import KsItem, KsOrdered


class ItemNode(DjangoObjectType):
    class Meta:
        model = KsItem
        fields = ("id", "name", "rank", "created_at")


class OrderedNode(DjangoObjectType):
    class Meta:
        model = KsOrdered
        fields = ("id", "title", "position")


class Query(graphene.ObjectType):
    items = KeysetConnectionField(ItemNode, ordering=("-created_at", "rank"), name=graphene.String())
    counted_items = KeysetConnectionField(ItemNode, ordering=("name",), count_policy="exact", max_first=5)
    ordered = KeysetConnectionField(OrderedNode)
    by_pk = KeysetConnectionField(ItemNode, on="objects")
    broken = KeysetConnectionField(ItemNode)

    def resolve_items(root: Any, info: Any, name: str | None = None, **kwargs: Any) -> Any:
        queryset = KsItem.objects.all()
        return queryset.filter(name=name) if name else queryset

    def resolve_broken(root: Any, info: Any, **kwargs: Any) -> Any:
        return [1, 2, 3]


schema = graphene.Schema(query=Query)
