"""Call-site validation: anything a JSON message cannot carry is refused with its name."""

from __future__ import annotations

import datetime
import decimal
import uuid

import pytest
from django.contrib.auth.models import User
from hypothesis import given
from hypothesis import strategies as st
from kombu.utils.json import dumps, loads

from nexus_tasks import TaskArgumentError, task
from nexus_tasks._encoding import canonical_json, validate_arguments
from nexus_tasks._task import unique_lock_key


@task
def takes(booking_id: int, payload: dict | None = None, *extra: object, **options: object) -> None:
    """Never run: only its signature matters here."""


def check(*args: object, **kwargs: object) -> None:
    validate_arguments(takes.run, takes.name, args, kwargs)


def test_model_instance_says_pass_its_pk() -> None:
    user = User(pk=7, username="x")
    with pytest.raises(TaskArgumentError, match=r"'booking_id'.*model instance; pass its pk \(7\)") as info:
        check(user)
    assert info.value.parameter == "booking_id"


def test_nested_value_is_named_with_its_path() -> None:
    with pytest.raises(TaskArgumentError, match=r"payload\['items'\]\[1\]") as info:
        check(1, {"items": [1, object()]})
    assert info.value.path == "payload['items'][1]"


def test_keyword_and_var_positional_are_named() -> None:
    with pytest.raises(TaskArgumentError, match="'flag'"):
        check(1, None, flag={1, 2})
    with pytest.raises(TaskArgumentError, match=r"'extra\[1\]'.*bytes"):
        check(1, None, "ok", b"raw")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (float("nan"), "finite"),
        (decimal.Decimal("Infinity"), "finite"),
        ({1: "a"}, "keys must be str"),
        (frozenset(), "sorted list"),
        (object(), "cannot carry"),
    ],
)
def test_unrepresentable_values(value: object, reason: str) -> None:
    with pytest.raises(TaskArgumentError, match=reason):
        check(value)


def test_wrong_arity_is_reported_at_the_call_site() -> None:
    with pytest.raises(TaskArgumentError, match="wrong arguments"):
        check()


def test_enqueue_refuses_before_anything_is_sent() -> None:
    with pytest.raises(TaskArgumentError, match="pass its pk"):
        takes.enqueue(User(pk=1))


def test_enqueue_with_rejects_unknown_options() -> None:
    with pytest.raises(TypeError, match="unknown option"):
        takes.enqueue_with(args=(1,), retries=3)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.datetimes(timezones=st.just(datetime.UTC))
    | st.dates()
    | st.uuids()
    | st.decimals(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)


@given(json_values)
def test_accepted_values_round_trip_through_the_message_encoding(value: object) -> None:
    check(value)
    assert loads(dumps(value)) == value


@given(st.dictionaries(st.text(max_size=5), st.integers(), max_size=6))
def test_unique_key_ignores_dict_order_but_not_types(mapping: dict[str, int]) -> None:
    reordered = dict(reversed(list(mapping.items())))
    assert unique_lock_key("t", [mapping], {}, None) == unique_lock_key("t", [reordered], {}, None)
    assert canonical_json([1]) != canonical_json(["1"])
    assert unique_lock_key("t", [(1, 2)], {}, None) == unique_lock_key("t", [[1, 2]], {}, None)


def test_documented_encoding_is_kombus_type_tags() -> None:
    ident = uuid.UUID(int=1)
    text = canonical_json([datetime.date(2026, 1, 2), decimal.Decimal("1.5"), ident])
    assert '"__type__":"date"' in text
    assert '"__type__":"decimal"' in text
    assert '"__type__":"uuid"' in text
