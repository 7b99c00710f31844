"""Signed, typed, compact cursors.

A cursor is the position of a row (the values of every sort key, each with its type) plus
a direction, signed with Django's signing under a salt. It is bound to the list it was
issued for through a short digest of the ordering and the filter parameters, so a cursor
replayed with another ordering or other filters is rejected instead of silently paging a
different list. Rotating ``SECRET_KEY`` keeps issued cursors valid as long as the old key
is in ``SECRET_KEY_FALLBACKS`` (``Signer`` tries the fallbacks).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
import functools
import hashlib
import hmac
import json
import uuid
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.core import signing
from django.utils.crypto import salted_hmac

__all__ = ["Cursor", "CursorEncoder", "CursorError", "binding_digest", "decode_cursor", "encode_cursor"]

#: Payload layout version; bump it when the layout changes so old cursors fail cleanly.
_FORMAT = 1
#: Real cursors are a few hundred characters at most; refuse to work on megabytes.
MAX_CURSOR_LENGTH = 4096
# "." is outside the base64url alphabet and needs no escaping in a URL (":" would).
_SEP = "."
# Short payloads do not shrink under zlib; skip the attempt.
_COMPRESS_ABOVE = 120
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_MICROSECOND = datetime.timedelta(microseconds=1)


class CursorError(ValueError):
    """The cursor cannot be used: it was tampered with, truncated, issued by another list or
    with another ordering, or signed with a key that is no longer accepted."""


@dataclasses.dataclass(frozen=True)
class Cursor:
    #: The sort-key values of the row the cursor points at.
    position: tuple[Any, ...]
    #: ``False``: the rows after the position; ``True``: the rows before it.
    reverse: bool = False


def _encode_value(value: Any) -> Any:
    # JSON carries None, bool, int and str as they are; everything else is a tagged pair, so
    # a string can never be mistaken for a date (lists are never plain values).
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, datetime.datetime):
        if value.utcoffset() == datetime.timedelta(0):
            # The usual case (USE_TZ): microseconds since the epoch are shorter than ISO 8601.
            return ["z", (value - _EPOCH) // _MICROSECOND]
        return ["t", value.isoformat()]
    if isinstance(value, datetime.date):
        return ["d", value.isoformat()]
    if isinstance(value, datetime.time):
        return ["h", value.isoformat()]
    if isinstance(value, decimal.Decimal):
        return ["n", str(value)]
    if isinstance(value, uuid.UUID):
        return ["u", value.hex]
    if isinstance(value, float):
        return ["f", value.hex()]
    if isinstance(value, datetime.timedelta):
        return ["s", [value.days, value.seconds, value.microseconds]]
    if isinstance(value, bytes | memoryview):
        return ["b", base64.urlsafe_b64encode(bytes(value)).decode("ascii")]
    raise TypeError(
        f"A {type(value).__name__} value cannot be stored in a cursor. Order by a column of a "
        f"scalar type (number, text, date, time, UUID, Decimal)."
    )


def _decode_value(raw: Any) -> Any:
    if raw is None or isinstance(raw, bool | int | str):
        return raw
    if not (isinstance(raw, list) and len(raw) == 2 and isinstance(raw[0], str)):
        raise CursorError("the cursor holds a value of unknown shape")
    tag, data = raw
    try:
        if tag == "z":
            return _EPOCH + datetime.timedelta(microseconds=data)
        if tag == "t":
            return datetime.datetime.fromisoformat(data)
        if tag == "d":
            return datetime.date.fromisoformat(data)
        if tag == "h":
            return datetime.time.fromisoformat(data)
        if tag == "n":
            return decimal.Decimal(data)
        if tag == "u":
            return uuid.UUID(hex=data)
        if tag == "f":
            return float.fromhex(data)
        if tag == "s":
            days, seconds, micros = data
            return datetime.timedelta(days=days, seconds=seconds, microseconds=micros)
        if tag == "b":
            return base64.urlsafe_b64decode(data.encode("ascii"))
    except (TypeError, ValueError, decimal.InvalidOperation) as exc:
        raise CursorError(f"the cursor holds a malformed {tag!r} value") from exc
    raise CursorError(f"the cursor holds a value of unknown type {tag!r}")


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def binding_digest(*parts: Any) -> str:
    """A short digest of what a cursor is bound to (model, ordering, filter parameters).

    It is inside the signed payload, so it only needs to tell lists apart, not resist forgery.
    """
    canonical = _CANONICAL.encode(parts)
    digest = hashlib.blake2b(canonical.encode(), digest_size=6).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")


class _CursorSigner(signing.Signer):
    """Django's ``Signer`` with the HMAC key for ``SECRET_KEY`` derived once.

    ``Signer.signature()`` hashes the salt and the secret into an HMAC key on every call; a
    connection signs one cursor per edge, so the derived HMAC is kept and copied instead.
    The signatures are byte for byte Django's (``Signer.unsign`` accepts them, and the
    fallback keys still go through Django's own code).
    """

    def __init__(self, *, key: str, salt: str, fallback_keys: list[str | bytes]) -> None:
        super().__init__(key=key, sep=_SEP, salt=salt, fallback_keys=fallback_keys)
        # Exactly what Signer.signature() derives (self.salt: Django substitutes a default for "").
        key_salt: Any = self.salt
        self._mac = salted_hmac(key_salt + "signer", b"", self.key, algorithm=self.algorithm)

    def signature(self, value: str | bytes, key: str | bytes | None = None) -> str:
        if key is not None and key != self.key:
            return super().signature(value, key)
        mac = self._mac.copy()
        mac.update(value.encode() if isinstance(value, str) else value)
        return signing.b64_encode(mac.digest()).decode()

    def sign_bytes(self, value: bytes) -> str:
        """``sign(value.decode())`` for an ASCII payload, without the round trips."""
        mac = self._mac.copy()
        mac.update(value)
        return f"{value.decode()}{_SEP}{base64.urlsafe_b64encode(mac.digest()).rstrip(b'=').decode()}"

    def unsign(self, signed_value: str) -> str:
        # The current key first, with the derived HMAC and one comparison; anything else
        # (a fallback key, a bad signature, no separator) goes through Django's own code.
        value, sep, sig = signed_value.rpartition(_SEP)
        if sep and hmac.compare_digest(sig.encode(), self.signature(value).encode()):
            return value
        return super().unsign(signed_value)


@functools.lru_cache(maxsize=16)
def _cached_signer(salt: str, key: str, fallbacks: tuple[str, ...]) -> _CursorSigner:
    return _CursorSigner(key=key, salt=salt, fallback_keys=list(fallbacks))


def _signer(salt: str) -> _CursorSigner:
    # One per (salt, key set): looked up per cursor, built only when the settings change.
    return _cached_signer(salt, settings.SECRET_KEY, tuple(getattr(settings, "SECRET_KEY_FALLBACKS", ())))


#: ``json.dumps(..., separators=...)`` builds a new encoder on every call; this one is reused.
_JSON = json.JSONEncoder(separators=(",", ":"))
_ZERO = datetime.timedelta(0)


def _value_json(value: Any) -> str:
    """``_encode_value(value)`` as JSON, with the common key types written directly."""
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is str:
        return _JSON.encode(value)
    if value is None:
        return "null"
    if kind is datetime.datetime and value.utcoffset() == _ZERO:
        return f'["z",{(value - _EPOCH) // _MICROSECOND}]'
    return _JSON.encode(_encode_value(value))


class CursorEncoder:
    """Signs cursors for one list.

    The binding's JSON and the signer are prepared once, so each cursor costs only its
    values, one HMAC and base64: a connection signs one cursor per edge. The payload is
    the JSON array ``[format, binding, reverse, [values...]]``, compressed when that helps.
    """

    __slots__ = ("_heads", "_signer")

    def __init__(self, *, binding: str, salt: str) -> None:
        self._signer = _signer(salt)
        head = f"[{_FORMAT},{_JSON.encode(binding)},"
        self._heads = (head + "0,[", head + "1,[")

    def __call__(self, position: Sequence[Any], reverse: bool = False) -> str:
        text = self._heads[1 if reverse else 0] + ",".join([_value_json(v) for v in position]) + "]]"
        data = text.encode()
        if len(data) > _COMPRESS_ABOVE:
            compressed = zlib.compress(data)
            if len(compressed) < len(data) - 1:
                # The marker Signer.unsign_object understands.
                return self._signer.sign_bytes(b"." + base64.urlsafe_b64encode(compressed).rstrip(b"="))
        return self._signer.sign_bytes(base64.urlsafe_b64encode(data).rstrip(b"="))

    def many(self, positions: Iterable[Sequence[Any]], reverse: bool = False) -> list[str]:
        """``[self(position, reverse) for position in positions]``, in one loop: a
        connection signs the cursors of all its edges at once."""
        head = self._heads[1 if reverse else 0]
        mac = self._signer._mac
        b64 = base64.urlsafe_b64encode
        tokens: list[str] = []
        for position in positions:
            data = (head + ",".join([_value_json(v) for v in position]) + "]]").encode()
            if len(data) > _COMPRESS_ABOVE:
                tokens.append(self(position, reverse))
                continue
            value = b64(data).rstrip(b"=")
            signature = mac.copy()
            signature.update(value)
            tokens.append((value + b"." + b64(signature.digest()).rstrip(b"=")).decode())
        return tokens


def encode_cursor(cursor: Cursor, *, binding: str, salt: str) -> str:
    return CursorEncoder(binding=binding, salt=salt)(cursor.position, cursor.reverse)


def _load(signed: str) -> Any:
    """What ``Signer.unsign_object`` makes of a verified value (base64, optionally zlib
    behind a leading ``.``, then JSON), without verifying it a second time."""
    data = signed.encode()
    compressed = data[:1] == b"."
    if compressed:
        data = data[1:]
    raw = base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))
    if compressed:
        raw = zlib.decompress(raw)
    return json.loads(raw.decode("latin-1"))


def decode_cursor(token: str, *, binding: str, salt: str, length: int) -> Cursor:
    """Verify and decode ``token``; every way it can be wrong raises ``CursorError``."""
    if not isinstance(token, str) or not token:
        raise CursorError("the cursor is empty")
    if len(token) > MAX_CURSOR_LENGTH:
        raise CursorError("the cursor is too long")
    try:
        signed = _signer(salt).unsign(token)
    except signing.BadSignature:
        raise CursorError("the cursor's signature does not match (tampered, truncated or foreign)") from None
    try:
        payload = _load(signed)
    except Exception as exc:  # a valid signature over undecodable data: a bug, never a 500
        raise CursorError("the cursor cannot be decoded") from exc
    if not (isinstance(payload, list) and len(payload) == 4 and payload[0] == _FORMAT):
        raise CursorError("the cursor was issued by an incompatible version")
    _format, bound_to, reverse, values = payload
    if bound_to != binding:
        raise CursorError("the cursor was issued for a different list (another ordering, filter or endpoint)")
    if not isinstance(values, list) or len(values) != length or reverse not in (0, 1):
        raise CursorError("the cursor does not match this list's sort keys")
    return Cursor(tuple(_decode_value(v) for v in values), reverse=bool(reverse))
