"""Canonical, typed text for cache-key material.

``f(1)``, ``f(True)``, ``f(1.0)`` and ``f("1")`` must be four keys; ``f(x=1)`` and ``f(1)``
one; ``{"a": 1, "b": 2}`` the same whatever the insertion order. Model instances are keyed
by their model and primary key, never by their field values (which may be stale in memory).
Anything without an unambiguous canonical form raises TypeError: a key that silently
collided would serve one caller's value to another.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from collections.abc import Mapping
from typing import Any

from django.db import models


def encode(value: Any) -> str:
    if value is None:
        return "N"
    if value is True:
        return "T"
    if value is False:
        return "F"
    t = type(value)
    if t is int:
        return f"i{value}"
    if t is str:
        return f"s{len(value)}:{value}"
    if t is float:
        return f"f{value!r}"
    if isinstance(value, models.Model):
        opts = value._meta
        if value.pk is None:
            raise TypeError(f"cannot key on an unsaved {opts.label} instance: save it or pass its pk")
        return f"m{opts.label_lower}:{encode(value.pk)}"
    if isinstance(value, enum.Enum):
        return f"e{t.__module__}.{t.__qualname__}:{encode(value.value)}"
    if isinstance(value, bool | int):  # int subclasses
        return f"i{int(value)}"
    if isinstance(value, str):
        return f"s{len(value)}:{value}"
    if isinstance(value, float):
        return f"f{float(value)!r}"
    if isinstance(value, bytes | bytearray):
        return f"b{bytes(value).hex()}"
    if isinstance(value, decimal.Decimal):
        return f"d{value.normalize()}" if value.is_finite() else f"d{value}"
    if isinstance(value, uuid.UUID):
        return f"u{value.hex}"
    if isinstance(value, datetime.datetime):
        return f"D{value.isoformat()}"
    if isinstance(value, datetime.date):
        return f"a{value.isoformat()}"
    if isinstance(value, datetime.time):
        return f"t{value.isoformat()}"
    if isinstance(value, datetime.timedelta):
        return f"z{value.days}:{value.seconds}:{value.microseconds}"
    if isinstance(value, tuple):
        return "(" + ",".join(encode(v) for v in value) + ")"
    if isinstance(value, list):
        return "[" + ",".join(encode(v) for v in value) + "]"
    if isinstance(value, frozenset | set):
        kind = "<" if isinstance(value, frozenset) else "{"
        return kind + ",".join(sorted(encode(v) for v in value)) + ">"
    if isinstance(value, Mapping):
        items = sorted((encode(k), encode(v)) for k, v in value.items())
        return "{" + ",".join(f"{k}={v}" for k, v in items) + "}"
    if isinstance(value, type) and issubclass(value, models.Model):
        return f"M{value._meta.label_lower}"
    raise TypeError(
        f"nexus_cache cannot build a cache key from a {t.__module__}.{t.__qualname__}: "
        "pass key=<callable> to build the key yourself, or pass simpler arguments"
    )


def encode_loose(value: Any) -> str:
    """For SQL parameters: the canonical form when there is one, else type + repr."""
    try:
        return encode(value)
    except TypeError:
        t = type(value)
        return f"r{t.__module__}.{t.__qualname__}:{value!r}"


__all__ = ["encode", "encode_loose"]
