"""The declared API versions (``NEXUS_API["VERSIONS"]``), parsed once per settings object.

Everything that needs to compare versions, announce deprecation or refuse a sunset
version goes through here, so the order of ``VERSIONS`` is the only notion of "older".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.http import http_date

from nexus_api.conf import SETTING_NAME, ApiSettings, get_settings

#: Keys a version's options may have.
VERSION_OPTIONS = ("deprecated", "sunset", "link")


def parse_moment(value: object) -> dt.datetime:
    """An ISO date (midnight UTC) or datetime (naive means UTC) as an aware datetime.

    Raises ``ValueError`` naming the accepted forms; system checks turn it into an error.
    """
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"{value!r} is not an ISO 8601 date; use 'YYYY-MM-DD' or 'YYYY-MM-DDTHH:MM:SSZ'."
            ) from None
    else:
        raise ValueError(f"{value!r} is not a date; use an ISO 8601 string such as '2027-06-30'.")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment


@dataclasses.dataclass(frozen=True)
class ApiVersion:
    """One declared version: its name, position (0 = oldest) and lifecycle dates."""

    name: str
    index: int
    deprecated: dt.datetime | None = None
    sunset: dt.datetime | None = None
    link: str | None = None

    def is_sunset(self, now: dt.datetime | None = None) -> bool:
        return self.sunset is not None and (now or dt.datetime.now(dt.UTC)) >= self.sunset

    def headers(self) -> dict[str, str]:
        """``API-Version`` plus RFC 9745 ``Deprecation``, RFC 8594 ``Sunset`` and the
        deprecation ``Link``, for every response served in this version."""
        headers = {"API-Version": self.name}
        if self.deprecated is not None:
            headers["Deprecation"] = f"@{int(self.deprecated.timestamp())}"
        if self.sunset is not None:
            headers["Sunset"] = http_date(self.sunset.timestamp())
        if self.link:
            rel = "deprecation" if self.deprecated is not None else "sunset"
            headers["Link"] = f'<{self.link}>; rel="{rel}"; type="text/html"'
        return headers

    def describe(self) -> str:
        """``deprecated 2026-01-01, sunset 2027-06-30`` (empty for a current version)."""
        parts = []
        if self.deprecated is not None:
            parts.append(f"deprecated {self.deprecated.date().isoformat()}")
        if self.sunset is not None:
            parts.append(f"sunset {self.sunset.date().isoformat()}")
        return ", ".join(parts)


@dataclasses.dataclass(frozen=True)
class Versions:
    """The ordered versions and the default, with lookups that tolerate a ``v`` prefix."""

    ordered: tuple[ApiVersion, ...]
    default: ApiVersion

    def __iter__(self) -> Iterator[ApiVersion]:
        return iter(self.ordered)

    @property
    def names(self) -> list[str]:
        return [v.name for v in self.ordered]

    @property
    def latest(self) -> ApiVersion:
        return self.ordered[-1]

    def get(self, raw: str | None) -> ApiVersion | None:
        """The version a client named (``2``, ``v2`` or ``V2``), or ``None``."""
        if not raw:
            return None
        by_name = {v.name: v for v in self.ordered}
        if raw in by_name:
            return by_name[raw]
        if raw[:1] in "vV" and raw[1:] in by_name:
            return by_name[raw[1:]]
        return None

    def __getitem__(self, name: str) -> ApiVersion:
        version = self.get(name)
        if version is None:
            raise ImproperlyConfigured(
                f"API version {name!r} is not declared in {SETTING_NAME}['VERSIONS'] "
                f"({', '.join(self.names)}); add it there or fix the reference."
            )
        return version

    def supported(self, now: dt.datetime | None = None) -> list[str]:
        """Names still served (not past an enforced sunset), oldest first."""
        enforce = get_settings().ENFORCE_SUNSET
        return [v.name for v in self.ordered if not (enforce and v.is_sunset(now))]


def _build(settings: ApiSettings) -> Versions:
    declared: Mapping[str, Any] = settings.VERSIONS if isinstance(settings.VERSIONS, Mapping) else {}
    ordered: list[ApiVersion] = []
    for index, (name, options) in enumerate(declared.items()):
        opts: Mapping[str, Any] = options if isinstance(options, Mapping) else {}
        ordered.append(
            ApiVersion(
                name=str(name),
                index=index,
                deprecated=_moment_or_none(opts.get("deprecated")),
                sunset=_moment_or_none(opts.get("sunset")),
                link=str(opts["link"]) if opts.get("link") else None,
            )
        )
    if not ordered:
        ordered.append(ApiVersion(name=str(settings.DEFAULT_VERSION or "1"), index=0))
    by_name = {v.name: v for v in ordered}
    default = by_name.get(str(settings.DEFAULT_VERSION), ordered[-1])
    return Versions(ordered=tuple(ordered), default=default)


def _moment_or_none(value: object) -> dt.datetime | None:
    if value in (None, ""):
        return None
    try:
        return parse_moment(value)
    except ValueError:
        # Reported by the system check nexus_api.E021; serving must not crash on it.
        return None


_cache: tuple[ApiSettings, Versions] | None = None


def get_versions() -> Versions:
    """The parsed versions for the current settings (rebuilt after ``override_settings``)."""
    global _cache
    settings = get_settings()
    if _cache is None or _cache[0] is not settings:
        _cache = (settings, _build(settings))
    return _cache[1]
