"""Memoized key material (filter steps, recipe keys, get(pk=) keys, options, token values):
a memo may only ever return what a fresh computation would."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from nexus_cache import _core, _tokens
from nexus_cache import models as nx_models
from nexus_cache.models import _get_key, _renc

from tests.models import Listing

PATHS = ["city", "city__startswith", "price", "price__gt", "pk", "host_id", "host__isnull"]
# The memoized types (str, int, bool, None) and values that compare equal across types.
PLAIN = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.sampled_from(["", "0", "1", "Lagos", "lagos"]),
)
KWARGS = st.dictionaries(st.sampled_from(PATHS), PLAIN, min_size=1, max_size=3)


def key_of(kwargs: dict[str, Any], negate: bool = False) -> Any:
    """The cached queryset's key, or the error filter()/exclude() raised at the call."""
    try:
        base = Listing.objects.cached(timeout=30)
        qs = base.exclude(**kwargs) if negate else base.filter(**kwargs)
    except Exception as exc:
        return ("error", type(exc), str(exc))
    return qs.cache_key()


@settings(max_examples=300, deadline=None)
@given(calls=st.lists(st.tuples(KWARGS, st.booleans()), min_size=1, max_size=6))
def test_memoized_keys_are_the_fresh_keys_and_follow_every_value(
    calls: list[tuple[dict[str, Any], bool]],
) -> None:
    # Warm memos (across examples, too) against keys computed from scratch.
    memoized = [key_of(kw, neg) for kw, neg in calls]
    assert [key_of(kw, neg) for kw, neg in calls] == memoized
    for (kw, neg), key in zip(calls, memoized, strict=True):
        nx_models.memo_clear()
        assert key_of(kw, neg) == key
    # Two filters share a key exactly when their canonical (typed) arguments are equal:
    # filter(price=1), filter(price=True) and filter(price="1") are three keys.
    for i, (kw1, neg1) in enumerate(calls):
        for kw2, neg2 in calls[i + 1 :]:
            k1, k2 = memoized[i], key_of(kw2, neg2)
            if isinstance(k1, str) and isinstance(k2, str):
                assert (k1 == k2) == (neg1 == neg2 and _renc(kw1) == _renc(kw2)), (kw1, kw2)


@pytest.mark.parametrize("value", [1, True, "1", 1.0, None])
def test_equal_values_of_other_types_never_share_a_memoized_key(value: Any) -> None:
    others = [
        v
        for v in (1, True, "1", 1.0, 0, False)
        if v is not value and not (type(v) is type(value) and v == value)
    ]
    first = key_of({"price": value})
    assert key_of({"price": value}) == first
    for other in others:
        assert key_of({"price": other}) != first, other
    gets = {_get_key("default", Listing, v) for v in (1, True, "1", 1.0)}
    assert len(gets) == 4
    assert _get_key("default", Listing, 1) == _get_key("default", Listing, 1)


def test_bad_values_raise_every_time_and_are_never_remembered() -> None:
    for _ in range(3):
        with pytest.raises(ValueError):
            Listing.objects.cached().filter(price="abc")
        with pytest.raises(ValueError):
            Listing.objects.cached().filter(price__gt=None)
    assert isinstance(key_of({"price": "5"}), str)


def test_memoized_keys_follow_the_key_prefix() -> None:
    before = (key_of({"city": "Lagos"}), _get_key("default", Listing, 7))
    with override_settings(NEXUS_CACHE={"KEY_PREFIX": "other-prefix"}):
        after = (key_of({"city": "Lagos"}), _get_key("default", Listing, 7))
        assert all(isinstance(k, str) and k.startswith("other-prefix:") for k in after)
    assert not set(before) & set(after)
    assert (key_of({"city": "Lagos"}), _get_key("default", Listing, 7)) == before


def test_unplain_values_are_keyed_without_the_memo() -> None:
    # Lists and floats are not memoized (0.0 == -0.0, but they encode differently).
    assert key_of({"price__in": [1, 2]}) != key_of({"price__in": [1, 3]})
    assert key_of({"price__in": [1, 2]}) == key_of({"price__in": [1, 2]})
    assert key_of({"price": 0.0}) != key_of({"price": -0.0})


def test_options_are_shared_and_still_validated() -> None:
    assert _core.options(".cached", 60) is _core.options(".cached", 60)
    assert _core.options(".cached", 60, stale=5.0) == _core.Options(timeout=60, stale=5.0)
    assert _core.options(".cached", 60, stale=5.0) is not _core.options(".cached", 60)
    for bad in (True, 0, -1, 1.5, "60", [60]):
        for _ in range(2):
            with pytest.raises(ValueError):
                _core.options(".cached", bad)  # type: ignore[arg-type]


def test_batched_token_values_are_fresh_and_carry_their_time() -> None:
    now = time.time()
    values = _tokens.new_values(50)
    assert len(set(values)) == 50
    assert all(abs(_tokens.value_time(v) - now) < 5 for v in values)
    assert all(v & 0x3FFFFF == v - ((v >> 22) << 22) for v in values)
    assert not set(values) & set(_tokens.new_values(50))


def test_recipe_keys_with_unhashable_material_are_computed_unmemoized() -> None:
    args: tuple[Any, ...] = ("fetch", "default", Listing, object, ["city"], 0, None, ("filter(){}",), "")
    first = nx_models._recipe_key(*args)
    assert first == nx_models._recipe_key(*args)
    assert first != nx_models._recipe_key(*args[:4], ["price"], *args[5:])
