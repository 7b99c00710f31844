"""CachedQuerySet: every evaluation shape is cached and invalidated."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.db.models import Avg, Count, Prefetch, Sum

from nexus_cache.models import CachedManager, CachedQuerySet

from tests.helpers import no_queries, queries
from tests.models import Amenity, Host, Listing, Review

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def data() -> dict[str, object]:
    ada = Host.objects.create(name="Ada")
    a = Listing.objects.create(city="Lagos", price=10, host=ada)
    b = Listing.objects.create(city="Lagos", price=30, host=ada)
    c = Listing.objects.create(city="Kano", price=20)
    Review.objects.create(listing=a, rating=4)
    Review.objects.create(listing=a, rating=2)
    return {"ada": ada, "a": a, "b": b, "c": c}


def test_manager_and_queryset_types() -> None:
    assert isinstance(Listing.objects, CachedManager)
    qs = Listing.objects.filter(city="x").cached(timeout=5)
    assert isinstance(qs, CachedQuerySet)
    assert isinstance(qs.filter(price=1), CachedQuerySet)
    assert qs.filter(price=1)._nx_opts is qs._nx_opts
    assert qs.uncached()._nx_opts is None


def test_uncached_querysets_are_untouched(data: dict[str, object]) -> None:
    with queries() as ctx:
        list(Listing.objects.all())
        list(Listing.objects.all())
    assert len(ctx) == 2


@pytest.mark.parametrize(
    "evaluate",
    [
        pytest.param(lambda qs: [x.pk for x in qs], id="iterate"),
        pytest.param(lambda qs: len(qs), id="len"),
        pytest.param(lambda qs: bool(qs), id="bool"),
        pytest.param(lambda qs: qs.count(), id="count"),
        pytest.param(lambda qs: qs.exists(), id="exists"),
        pytest.param(lambda qs: qs.first().pk, id="first"),
        pytest.param(lambda qs: qs.last().pk, id="last"),
        pytest.param(lambda qs: qs[0].pk, id="index"),
        pytest.param(lambda qs: [x.pk for x in qs[1:2]], id="slice"),
        pytest.param(lambda qs: qs.get(price=30).pk, id="get"),
        pytest.param(lambda qs: list(qs.values("city", "price")), id="values"),
        pytest.param(lambda qs: list(qs.values_list("price", flat=True)), id="values_list_flat"),
        pytest.param(lambda qs: [tuple(r) for r in qs.values_list("price", "city", named=True)], id="named"),
        pytest.param(lambda qs: qs.aggregate(Sum("price"), avg=Avg("price")), id="aggregate"),
        pytest.param(lambda qs: sorted(qs.in_bulk()), id="in_bulk"),
        pytest.param(
            lambda qs: [(x.pk, x.n) for x in qs.annotate(n=Count("reviews")).order_by("pk")], id="annotate"
        ),
    ],
)
def test_evaluations_hit_and_are_invalidated(data: dict[str, object], evaluate: object) -> None:
    def run() -> object:
        return evaluate(Listing.objects.filter(city="Lagos").order_by("id").cached(timeout=60))  # type: ignore[operator]

    first = run()
    with no_queries():
        assert run() == first
    Listing.objects.filter(city="Lagos", price=10).update(price=11)
    Listing.objects.create(city="Lagos", price=50)
    expected = evaluate(Listing.objects.filter(city="Lagos").order_by("id"))  # type: ignore[operator]
    assert run() == expected


def test_different_shapes_have_different_keys(data: dict[str, object]) -> None:
    qs = Listing.objects.filter(city="Lagos").order_by("id").cached()
    assert qs.count() == 2
    assert list(qs.values_list("price", flat=True)) == [10, 30]
    assert [x.price for x in qs] == [10, 30]
    assert list(qs.values("price")) == [{"price": 10}, {"price": 30}]
    assert qs.filter(price=30).count() == 1
    assert Listing.objects.cached().filter(city="Kano").count() == 1


def test_select_related_table_is_a_dependency(data: dict[str, object]) -> None:
    def names() -> list[str | None]:
        return [x.host.name if x.host else None for x in Listing.objects.cached().select_related("host")]

    assert names() == ["Ada", "Ada", None]
    with no_queries():
        assert names() == ["Ada", "Ada", None]
    Host.objects.update(name="Bisi")
    assert names() == ["Bisi", "Bisi", None]


def test_prefetch_related_tables_are_dependencies(data: dict[str, object]) -> None:
    def ratings() -> list[list[int]]:
        qs = Listing.objects.cached().prefetch_related("reviews").order_by("id")
        return [sorted(r.rating for r in x.reviews.all()) for x in qs]

    assert ratings() == [[2, 4], [], []]
    with no_queries():
        assert ratings() == [[2, 4], [], []]
    Review.objects.filter(rating=2).update(rating=5)
    assert ratings() == [[4, 5], [], []]


def test_prefetch_objects_with_querysets_are_part_of_the_key(data: dict[str, object]) -> None:
    def ratings(minimum: int) -> list[list[int]]:
        qs = Listing.objects.cached().prefetch_related(
            Prefetch("reviews", queryset=Review.objects.filter(rating__gte=minimum), to_attr="good")
        )
        return [sorted(r.rating for r in x.good) for x in qs.order_by("id")]

    assert ratings(3) == [[4], [], []]
    assert ratings(1) == [[2, 4], [], []]


def test_related_manager_querysets(data: dict[str, object]) -> None:
    a = data["a"]
    assert isinstance(a, Listing)
    assert sorted(r.rating for r in Review.objects.cached().filter(listing=a)) == [2, 4]
    Review.objects.create(listing=a, rating=1)
    assert sorted(r.rating for r in Review.objects.cached().filter(listing=a)) == [1, 2, 4]


def test_subquery_tables_are_dependencies(data: dict[str, object]) -> None:
    def reviewed() -> list[str]:
        return sorted(
            Listing.objects.cached()
            .filter(pk__in=Review.objects.values("listing_id"))
            .values_list("city", flat=True)
        )

    assert reviewed() == ["Lagos"]
    Review.objects.create(listing=data["c"], rating=5)  # type: ignore[misc]
    assert reviewed() == ["Kano", "Lagos"]


def test_empty_in_runs_no_query_and_is_not_cached() -> None:
    with no_queries():
        assert list(Listing.objects.cached().filter(pk__in=[])) == []
        assert Listing.objects.cached().filter(pk__in=[]).count() == 0


def test_iterator_bypasses_the_cache(data: dict[str, object]) -> None:
    with queries() as ctx:
        list(Listing.objects.cached().iterator())
        list(Listing.objects.cached().iterator())
    assert len(ctx) == 2


def test_mixin_manager_and_invalidate_cache(data: dict[str, object]) -> None:
    ada = data["ada"]
    assert isinstance(ada, Host)
    assert Host.objects.cached().get(pk=ada.pk).name == "Ada"
    with no_queries():
        Host.objects.cached().get(pk=ada.pk)
    ada.invalidate_cache()
    with queries() as ctx:
        Host.objects.cached().get(pk=ada.pk)
    assert len(ctx) == 1


def test_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Listing.objects.cached(timeout=0)


def test_m2m_through_manager(data: dict[str, object]) -> None:
    a = data["a"]
    assert isinstance(a, Listing)
    wifi = Amenity.objects.create(name="wifi")
    assert list(Amenity.objects.cached().filter(listings__city="Lagos")) == []
    a.amenities.add(wifi)
    assert [x.name for x in Amenity.objects.cached().filter(listings__city="Lagos")] == ["wifi"]


def test_async_evaluation(data: dict[str, object]) -> None:
    qs = Listing.objects.filter(city="Lagos").cached()

    async def run() -> tuple[list[int], int, int]:
        prices = [x.price async for x in qs.order_by("id")]
        first = await qs.order_by("id").afirst()
        assert first is not None
        return prices, await qs.acount(), first.price

    assert async_to_sync(run)() == ([10, 30], 2, 10)
    with no_queries():
        assert async_to_sync(run)() == ([10, 30], 2, 10)


def test_get_by_pk_fast_path_only_for_the_whole_table(data: dict[str, object]) -> None:
    a, c, ada = data["a"], data["c"], data["ada"]
    assert isinstance(a, Listing)
    assert isinstance(c, Listing)
    assert isinstance(ada, Host)
    assert Listing.objects.cached().get(pk=a.pk).city == "Lagos"
    assert Listing.objects.cached().get(id=a.pk).city == "Lagos"
    # Shaped querysets are keyed by their SQL, never by the pk alone.
    with pytest.raises(Listing.DoesNotExist):
        ada.listings.cached().get(pk=c.pk)  # type: ignore[attr-defined]
    with pytest.raises(Listing.DoesNotExist):
        Listing.objects.cached().filter(city="Lagos").get(pk=c.pk)
    assert Listing.objects.cached().get(pk=c.pk).city == "Kano"
    deferred = Listing.objects.cached().only("city").get(pk=a.pk)
    assert deferred.get_deferred_fields() == {"host_id", "price"}
    assert Listing.objects.cached().select_related("host").get(pk=a.pk).host.name == "Ada"
    annotated = Listing.objects.cached().annotate(n=Count("reviews")).get(pk=a.pk)
    assert annotated.n == 2
    assert Listing.objects.cached().values("city").get(pk=a.pk) == {"city": "Lagos"}


def test_recipe_keys_match_the_sql_semantics(data: dict[str, object]) -> None:
    from django.db.models import F, Q

    def both(build: object) -> None:
        cached = build(Listing.objects.cached())  # type: ignore[operator]
        plain = build(Listing.objects.all())  # type: ignore[operator]
        assert list(cached.values_list("pk", flat=True)) == list(plain.values_list("pk", flat=True))
        assert [x.pk for x in cached] == [x.pk for x in plain]

    both(lambda qs: qs.filter(city="Lagos").exclude(price=10).order_by("-price"))
    both(lambda qs: qs.filter(Q(city="Kano") | Q(price__gt=20)).order_by("id"))
    both(lambda qs: qs.filter(price__gt=F("id")).order_by("id"))
    both(lambda qs: qs.exclude(Q(city="Lagos"), price=10).order_by("id"))
    both(lambda qs: qs.filter(host=data["ada"]).order_by("id"))
    both(lambda qs: qs.filter(city__in=["Lagos", "Kano"]).distinct().order_by("price")[1:3])
    both(lambda qs: qs.filter(reviews__rating__gte=1).distinct().order_by("id"))
    both(lambda qs: qs.filter(pk__in=Review.objects.values("listing_id")).order_by("id"))  # no recipe


def test_recipe_is_dropped_for_unknown_calls_and_sticky_filters(data: dict[str, object]) -> None:
    a = data["a"]
    assert isinstance(a, Listing)
    qs = Listing.objects.cached().filter(city="Lagos")
    assert qs._nx_recipe is not None
    assert qs.annotate(n=Count("reviews"))._nx_recipe is None
    assert qs.filter(pk__in=Review.objects.values("listing_id"))._nx_recipe is None
    assert qs.extra(where=["1=1"])._nx_recipe is None
    assert qs.select_for_update()._nx_recipe is None
    wifi, pool = Amenity.objects.create(name="wifi"), Amenity.objects.create(name="pool")
    a.amenities.add(wifi, pool)
    # The related manager's sticky join makes this one join; the plain spelling is two.
    via_manager = list(a.amenities.cached().filter(name="wifi").values_list("name", flat=True))
    assert via_manager == ["wifi"]
    core = Amenity.objects.cached().filter(listings__id=a.pk).filter(listings__id=a.pk, name="pool")
    assert list(core.values_list("name", flat=True)) == ["pool"]
    assert list(a.amenities.cached().filter(name="wifi").values_list("name", flat=True)) == ["wifi"]


def test_lazy_filters_behave_like_filters(data: dict[str, object]) -> None:
    import pickle

    from django.core.exceptions import FieldError

    qs = Listing.objects.cached().filter(city="Lagos")
    assert "tests_listing" in str(qs.query)
    restored = pickle.loads(pickle.dumps(Listing.objects.cached().filter(city="Kano")))
    assert [x.city for x in restored] == ["Kano"]
    with pytest.raises(FieldError):
        list(Listing.objects.cached().filter(nope=1))
    with pytest.raises(TypeError, match="slice"):
        Listing.objects.cached()[:1].filter(city="x")
    replaced = Listing.objects.cached().filter(city="Lagos")
    replaced.query = Listing.objects.filter(city="Kano").query
    assert replaced._nx_recipe is None
    assert [x.city for x in replaced] == ["Kano"]


def test_as_manager_gives_a_cached_manager() -> None:
    from tests.models import Tag

    assert isinstance(Tag.objects, CachedManager)
    Tag.objects.create(name="a")
    assert [t.name for t in Tag.objects.cached(timeout=5)] == ["a"]
    with no_queries():
        assert [t.name for t in Tag.objects.cached(timeout=5)] == ["a"]
    with pytest.raises(ValueError, match="positive"):
        Tag.objects.cached(timeout=-3)
    base = Tag.objects.all()
    assert base.cached()._nx_opts is not None
    assert base._nx_opts is None  # a queryset's .cached() never changes it
