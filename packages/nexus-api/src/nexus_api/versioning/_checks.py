"""System checks for versioning and problem settings (ids nexus_api.E020-E029, W020-W029).

Registered from ``nexus_api.checks``; kept here because they need the version parsing and
the change registry, which live in this package.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error, Warning, register
from django.urls import URLPattern, URLResolver, get_resolver

from nexus_api.conf import DEFAULTS, SETTING_NAME, user_settings
from nexus_api.versioning._changes import VersionChange, all_changes
from nexus_api.versioning._scheme import SOURCES
from nexus_api.versioning._versions import VERSION_OPTIONS, parse_moment


def _raw() -> dict[str, Any] | None:
    raw = user_settings()
    return raw if isinstance(raw, dict) else None


def _check_versions(versions: Mapping[Any, Any], default: Any, enforce_sunset: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if not versions:
        errors.append(
            Error(
                f"{SETTING_NAME}['VERSIONS'] is empty.",
                hint='Declare at least one version, e.g. {"1": {}}.',
                id="nexus_api.E027",
            )
        )
    for name, options in versions.items():
        label = f"{SETTING_NAME}['VERSIONS'][{name!r}]"
        if not isinstance(name, str):
            errors.append(Error(f"{label}: version names must be strings.", id="nexus_api.E020"))
        if not isinstance(options, Mapping):
            errors.append(
                Error(
                    f"{label} must be a dict of options, not {type(options).__name__}.",
                    hint=f"Use {{}} or keys from: {', '.join(VERSION_OPTIONS)}.",
                    id="nexus_api.E020",
                )
            )
            continue
        unknown = sorted(set(map(str, options)) - set(VERSION_OPTIONS))
        if unknown:
            errors.append(
                Error(
                    f"{label} has unknown option(s): {', '.join(unknown)}.",
                    hint=f"Known options: {', '.join(VERSION_OPTIONS)}.",
                    id="nexus_api.E020",
                )
            )
        if "link" in options and not isinstance(options["link"], str):
            errors.append(Error(f"{label}['link'] must be a URL string.", id="nexus_api.E020"))
        moments = {}
        for key in ("deprecated", "sunset"):
            if options.get(key) in (None, ""):
                continue
            try:
                moments[key] = parse_moment(options[key])
            except ValueError as exc:
                errors.append(Error(f"{label}[{key!r}]: {exc}", id="nexus_api.E021"))
        if "deprecated" in moments and "sunset" in moments and moments["sunset"] < moments["deprecated"]:
            errors.append(
                Error(
                    f"{label}: sunset ({options['sunset']}) is earlier than deprecated ({options['deprecated']}).",
                    hint="RFC 8594: a version is deprecated before it is retired; fix one of the dates.",
                    id="nexus_api.E022",
                )
            )
        if name == default and "sunset" in moments and enforce_sunset is not False:
            from nexus_api.versioning._versions import ApiVersion

            if ApiVersion(name=str(name), index=0, sunset=moments["sunset"]).is_sunset():
                errors.append(
                    Warning(
                        f"DEFAULT_VERSION {name!r} is past its sunset: requests naming no version get 410.",
                        hint="Make a current version the default.",
                        id="nexus_api.W021",
                    )
                )
    return errors


@register()
def check_versioning_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    raw = _raw()
    if raw is None:
        return []  # reported as nexus_api.E001
    errors: list[CheckMessage] = []
    versions = raw.get("VERSIONS", DEFAULTS["VERSIONS"])
    if isinstance(versions, Mapping):
        errors += _check_versions(
            versions, raw.get("DEFAULT_VERSION", DEFAULTS["DEFAULT_VERSION"]), raw.get("ENFORCE_SUNSET")
        )
    sources = raw.get("VERSION_SOURCES", DEFAULTS["VERSION_SOURCES"])
    if isinstance(sources, list | tuple):
        bad = [s for s in sources if s not in SOURCES]
        if bad or not sources or len(set(sources)) != len(sources):
            errors.append(
                Error(
                    f"{SETTING_NAME}['VERSION_SOURCES'] is {sources!r}.",
                    hint=f"A non-empty list without repeats, from: {', '.join(SOURCES)}.",
                    id="nexus_api.E023",
                )
            )
    status = raw.get("VALIDATION_ERROR_STATUS", DEFAULTS["VALIDATION_ERROR_STATUS"])
    if status not in (400, 422):
        errors.append(
            Error(
                f"{SETTING_NAME}['VALIDATION_ERROR_STATUS'] is {status!r}.",
                hint="Use 400 (Bad Request) or 422 (Unprocessable Content).",
                id="nexus_api.E024",
            )
        )
    base = raw.get("PROBLEM_TYPE_BASE", DEFAULTS["PROBLEM_TYPE_BASE"])
    if isinstance(base, str) and base and base[-1] not in "/#:=":
        errors.append(
            Warning(
                f"{SETTING_NAME}['PROBLEM_TYPE_BASE'] ({base!r}) does not end with '/', '#', ':' or '='; "
                f"types would read like {base}not-found.",
                hint=f"Use {base + '/'!r}.",
                id="nexus_api.W022",
            )
        )
    return errors


def _view_classes(patterns: Sequence[URLPattern | URLResolver]) -> Iterator[type]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _view_classes(pattern.url_patterns)
        else:
            view_class = getattr(pattern.callback, "cls", None)
            if isinstance(view_class, type):
                yield view_class


def _serializer_classes(view: type) -> Iterator[type]:
    candidates = [getattr(view, "serializer_class", None)]
    classes = getattr(view, "serializer_classes", None)
    if isinstance(classes, Mapping):
        candidates += list(classes.values())
    for candidate in candidates:
        if isinstance(candidate, type):
            yield candidate


def _nested(serializer_class: type, seen: set[type]) -> Iterator[type]:
    """A serializer class and the classes of its declared nested serializers."""
    if serializer_class in seen:
        return
    seen.add(serializer_class)
    yield serializer_class
    for field in getattr(serializer_class, "_declared_fields", {}).values():
        child = getattr(field, "child", field)
        if hasattr(child, "_declared_fields"):
            yield from _nested(type(child), seen)


def _reachable_changes(views: set[type]) -> list[type[VersionChange]]:
    """Changes listed by routed views and by the serializers those views use."""
    found: list[type[VersionChange]] = []
    seen: set[type] = set()
    holders: list[type] = []
    for view in views:
        holders.append(view)
        for serializer_class in _serializer_classes(view):
            holders += list(_nested(serializer_class, seen))
    for holder in holders:
        for change in getattr(holder, "version_changes", ()) or ():
            if isinstance(change, type) and issubclass(change, VersionChange) and change not in found:
                found.append(change)
    order = {change: position for position, change in enumerate(all_changes())}
    return sorted(found, key=lambda change: order.get(change, -1))


@register()
def check_version_references(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Version names used by routed views (their changes, their serializers' changes,
    ``serializer_classes``) must be declared."""
    raw = _raw()
    versions = (raw or {}).get("VERSIONS", DEFAULTS["VERSIONS"])
    if not isinstance(versions, Mapping) or not versions:
        return []
    names = list(versions)
    errors: list[CheckMessage] = []
    try:
        views = set(_view_classes(get_resolver().url_patterns))
    except Exception:  # Django's own URL checks report a broken URLconf
        views = set()
    for view in sorted(views, key=lambda v: f"{v.__module__}.{v.__qualname__}"):
        classes = getattr(view, "serializer_classes", None)
        if isinstance(classes, Mapping):
            for key in classes:
                if key not in names:
                    errors.append(
                        Error(
                            f"{view.__module__}.{view.__qualname__}.serializer_classes names version "
                            f"{key!r}, which is not in {SETTING_NAME}['VERSIONS'] ({', '.join(names)}).",
                            obj=view,
                            id="nexus_api.E026",
                        )
                    )
    for change in _reachable_changes(views):
        label = f"{change.__module__}.{change.__qualname__}"
        if change.version not in names:
            errors.append(
                Error(
                    f"{label}.version is {change.version!r}, which is not in "
                    f"{SETTING_NAME}['VERSIONS'] ({', '.join(names)}).",
                    hint="A change belongs to the version that introduced it.",
                    obj=change,
                    id="nexus_api.E025",
                )
            )
        elif change.version == names[0]:
            errors.append(
                Warning(
                    f"{label} is introduced in the oldest version ({names[0]!r}), so no request is "
                    "ever translated through it.",
                    hint="Set version to the first version that has the new behaviour.",
                    obj=change,
                    id="nexus_api.W020",
                )
            )
    return errors
