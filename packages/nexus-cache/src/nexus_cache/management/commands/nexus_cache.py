"""``manage.py nexus_cache stats|invalidate|explain|clear|listen|install_triggers``."""

from __future__ import annotations

import datetime
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from nexus_cache import _api, _core, _store, _tokens
from nexus_cache._stats import NAMES
from nexus_cache.signals import invalidated


class Command(BaseCommand):
    help = "Inspect and operate nexus-cache: counters, invalidation, entry dependencies."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        stats = sub.add_parser("stats", help="hits, misses, invalidations and errors over all processes")
        stats.add_argument("--json", action="store_true", help="print JSON")
        inv = sub.add_parser("invalidate", help="invalidate every value that read a model's table")
        inv.add_argument("models", nargs="+", metavar="app_label.Model")
        inv.add_argument("--database", default=None, help="only this database alias")
        exp = sub.add_parser("explain", help="what an entry holds and depends on, and whether it is valid")
        exp.add_argument("key", help="an entry key, e.g. from func.key(...) or queryset.cache_key()")
        sub.add_parser("clear", help="invalidate everything (replaces the global epoch; deletes nothing)")
        listen = sub.add_parser("listen", help="PostgreSQL: apply NOTIFY from triggers (contrib.postgres)")
        listen.add_argument("--database", default="default")
        listen.add_argument("--timeout", type=float, default=None, help="stop after this many seconds")
        trig = sub.add_parser("install_triggers", help="PostgreSQL: install NOTIFY triggers on model tables")
        trig.add_argument("--database", default="default")
        trig.add_argument("--drop", action="store_true", help="remove them instead")
        trig.add_argument("models", nargs="*", metavar="app_label.Model", help="default: every model")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        getattr(self, f"_{action}")(options)

    def _stats(self, options: dict[str, Any]) -> None:
        data = _api.stats()
        if options["json"]:
            self.stdout.write(json.dumps(data, sort_keys=True))
            return
        if not data["shared"]:
            self.stderr.write("cache unreachable: showing this process's counters only")
        for name in ("hits", "misses", "hit_rate", *(n for n in NAMES if n not in ("hits", "misses"))):
            self.stdout.write(f"{name:>14}: {data.get(name)}")

    def _invalidate(self, options: dict[str, Any]) -> None:
        for label in options["models"]:
            try:
                _api.invalidate(label, using=options["database"])
            except LookupError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"invalidated {label}")

    def _explain(self, options: dict[str, Any]) -> None:
        try:
            info = _core.explain(options["key"])
        except _store.CacheUnavailable as exc:
            raise CommandError(
                f"cache unreachable ({exc}): check CACHES and NEXUS_CACHE['CACHE_ALIAS'], then run it again"
            ) from exc
        if not info["present"]:
            self.stdout.write(f"{info['key']}: no entry (never stored, expired or evicted)")
            return
        when = datetime.datetime.fromtimestamp(info["created"], tz=datetime.UTC).isoformat()
        self.stdout.write(f"{info['key']}: {'VALID' if info['valid'] else 'INVALID'}")
        self.stdout.write(f"  value: {info['value_type']}, computed {when} in {info['compute_seconds']:.4f}s")
        for dep in info["dependencies"]:
            state = "ok" if dep["valid"] else f"changed (now {dep['current']})"
            self.stdout.write(f"  depends on {dep['token']}: {state}")

    def _clear(self, options: dict[str, Any]) -> None:
        names = {_tokens.GLOBAL} | {_tokens.epoch(_tokens.namespace(a)) for a in _api.primary_aliases()}
        if not _tokens.replace(names):
            raise CommandError("cache unreachable: the clear is queued in this process only; run it again")
        invalidated.send(sender=None, alias=None, tokens=frozenset(names))
        self.stdout.write("cleared: every entry is now invalid")

    def _listen(self, options: dict[str, Any]) -> None:
        from nexus_cache.contrib.postgres import listen

        self.stdout.write(f"listening for table changes on {options['database']!r} (Ctrl-C stops)")
        try:
            count = listen(options["database"], timeout=options["timeout"])
        except KeyboardInterrupt:  # pragma: no cover - interactive
            return
        self.stdout.write(f"stopped after {count} notification(s)")

    def _install_triggers(self, options: dict[str, Any]) -> None:
        from django.apps import apps

        from nexus_cache.contrib.postgres import drop_triggers, install_triggers

        models = [apps.get_model(label) for label in options["models"]] or None
        if options["drop"]:
            tables = drop_triggers(options["database"], models)
        else:
            tables = install_triggers(options["database"], models)
        verb = "removed from" if options["drop"] else "installed on"
        self.stdout.write(f"triggers {verb} {len(tables)} table(s): {', '.join(tables)}")
