"""``manage.py nexus_tasks relay|health``."""

from __future__ import annotations

import json
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "nexus-tasks operations: the outbox relay and the health report."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        relay = sub.add_parser("relay", help="Publish pending outbox messages (long-running).")
        relay.add_argument("--once", action="store_true", help="Publish what is pending now, then exit.")
        relay.add_argument("--database", default="default", help="Database alias of the outbox.")
        relay.add_argument("--interval", type=float, default=None, help="Seconds to sleep when idle.")
        health = sub.add_parser("health", help="Report broker, workers, outbox, dead letters, locks.")
        health.add_argument("--database", default="default")
        health.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "relay":
            self._relay(options)
        else:
            self._health(options)

    def _relay(self, options: dict[str, Any]) -> None:
        from nexus_tasks import relay

        using = options["database"]
        if options["once"]:
            published = relay.drain(using)
            self.stdout.write(f"published {published}")
            return
        stop = threading.Event()

        def on_signal(signum: int, frame: object) -> None:
            # Finish the batch in hand (its rows are claimed) and exit cleanly.
            stop.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.stdout.write("relay started")
            self.stdout.flush()
            totals = relay.run(using, stop=stop, interval=options["interval"])
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write(f"relay stopped: published {totals.published}, failed {totals.failed}")

    def _health(self, options: dict[str, Any]) -> None:
        from nexus_tasks.health import health_report

        report = health_report(using=options["database"])
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2, sort_keys=True))
        else:
            for key, value in report.items():
                self.stdout.write(f"{key}: {value}")
        if not report["healthy"]:
            raise CommandError("unhealthy: " + "; ".join(report["problems"]))
