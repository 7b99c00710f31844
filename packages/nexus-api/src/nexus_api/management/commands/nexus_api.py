"""``manage.py nexus_api``: ``changelog`` (the API changes per version) and ``versions``."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import get_resolver

from nexus_api.versioning._changes import VersionChange, all_changes
from nexus_api.versioning._versions import get_versions


def _load_project() -> None:
    """Import the URLconf so that views, serializers and their changes are defined."""
    try:
        get_resolver().url_patterns  # noqa: B018 - the import is the point
    except Exception as exc:
        raise CommandError(f"Could not import the URLconf to find version changes: {exc}") from exc


def _changes_by_version() -> tuple[dict[str, list[type[VersionChange]]], list[type[VersionChange]]]:
    names = get_versions().names
    grouped: dict[str, list[type[VersionChange]]] = {name: [] for name in names}
    undeclared = []
    for change in all_changes():
        if change.version in grouped:
            grouped[change.version].append(change)
        else:
            undeclared.append(change)
    return grouped, undeclared


def _operations(change: type[VersionChange]) -> list[str]:
    return [operation.describe() for operation in change.operations]


class Command(BaseCommand):
    help = "Show the API versions and the changes each one introduced (newest first)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["changelog", "versions"])
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args: Any, action: str, format: str, **options: Any) -> None:
        _load_project()
        if action == "versions":
            self._versions(format)
        else:
            self._changelog(format)

    def _versions(self, format: str) -> None:
        versions = get_versions()
        rows = [
            {
                "version": v.name,
                "default": v is versions.default,
                "deprecated": v.deprecated.isoformat() if v.deprecated else None,
                "sunset": v.sunset.isoformat() if v.sunset else None,
                "retired": v.is_sunset(),
                "link": v.link,
            }
            for v in versions
        ]
        if format == "json":
            self.stdout.write(json.dumps(rows, indent=2))
            return
        for version, row in zip(versions, rows, strict=True):
            flags = [flag for flag in ("default", "retired") if row[flag]]
            details = ", ".join(filter(None, [version.describe(), *flags]))
            self.stdout.write(f"{version.name}{f' ({details})' if details else ''}")

    def _changelog(self, format: str) -> None:
        grouped, undeclared = _changes_by_version()
        versions = get_versions()
        for change in undeclared:
            self.stderr.write(
                f"warning: {change.__module__}.{change.__qualname__} names version {change.version!r}, "
                "which is not declared in NEXUS_API['VERSIONS']; it is left out."
            )
        if format == "json":
            payload = [
                {
                    "version": version.name,
                    "deprecated": version.deprecated.date().isoformat() if version.deprecated else None,
                    "sunset": version.sunset.date().isoformat() if version.sunset else None,
                    "changes": [
                        {
                            "name": f"{change.__module__}.{change.__qualname__}",
                            "description": change.get_description(),
                            "operations": _operations(change),
                        }
                        for change in grouped[version.name]
                    ],
                }
                for version in reversed(versions.ordered)
            ]
            self.stdout.write(json.dumps(payload, indent=2))
            return
        self.stdout.write("# API changelog\n")
        for version in reversed(versions.ordered):
            status = version.describe()
            self.stdout.write(f"## {version.name}{f' ({status})' if status else ''}\n")
            changes = grouped[version.name]
            if version.index == 0:
                self.stdout.write("- First version.")
            elif not changes:
                self.stdout.write("- No breaking changes.")
            for change in changes:
                self.stdout.write(f"- {change.get_description()}")
                for text in _operations(change):
                    self.stdout.write(f"  - {text}")
            self.stdout.write("")
