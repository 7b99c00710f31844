"""Writes from outside Django (psql, other services, migration scripts) on PostgreSQL.

No execute_wrapper sees an UPDATE made by another program. Statement-level triggers on the
tracked tables ``NOTIFY nexus_cache, '<table>'`` when they change; the listener
(``manage.py nexus_cache listen``, or ``listen()`` in your own process) replaces the
table's tokens when the notification arrives - which PostgreSQL delivers only after the
writing transaction committed, exactly when the tokens must change.

Install the triggers with ``manage.py nexus_cache install_triggers`` or from a migration::

    from nexus_cache.contrib.postgres import InstallNotifyTriggers

    operations = [InstallNotifyTriggers(["listings.Listing", "reviews.Review"])]

Writes made through a Django connection are invalidated precisely at commit by the
execute wrapper, which marks them with a SQL comment (``TAG_HANDLED_WRITES``); the trigger
skips the NOTIFY for the tables such a statement names, so the listener does not
invalidate those tables a second time. Writes from psql, other services, functions and
other triggers still notify.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from django.apps import apps
from django.db import connections, models
from django.db.migrations.operations.base import Operation

from nexus_cache import _tokens, _tracking
from nexus_cache._tracking import HANDLED_TAG

CHANNEL = "nexus_cache"
FUNCTION = "nexus_cache_notify"
TRIGGER = "nexus_cache_notify"

# A statement sent by a Django connection carries /*nexus_cache:<tables>*/ when nexus-cache
# replaces those tables' tokens itself at commit (``TAG_HANDLED_WRITES``): no NOTIFY then.
# Only at trigger depth 1 - a write made by another trigger or a cascade is not what the
# statement names - and only for the tables the comment lists, so a function that writes
# another table (``SELECT f()``, ``UPDATE a SET x = f()``) still notifies.
_FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $nx$
DECLARE
    handled text;
BEGIN
    IF pg_trigger_depth() = 1 THEN
        handled := substring(current_query() from '/[*]{HANDLED_TAG}([^*]*)[*]/');
        IF handled = '*' OR TG_TABLE_NAME = ANY (string_to_array(handled, ',')) THEN
            RETURN NULL;
        END IF;
    END IF;
    PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME);
    RETURN NULL;
END
$nx$;
"""


def _tables(model_list: Iterable[type[models.Model]] | None) -> list[str]:
    chosen = list(model_list) if model_list is not None else list(apps.get_models(include_auto_created=True))
    tables: list[str] = []
    for model in chosen:
        opts = model._meta
        if opts.managed and not opts.proxy and opts.db_table not in tables:
            tables.append(opts.db_table)
    return tables


def _require_postgres(alias: str) -> None:
    vendor = connections[alias].vendor
    if vendor != "postgresql":
        raise RuntimeError(
            f"nexus_cache.contrib.postgres needs PostgreSQL, and database {alias!r} is {vendor}: "
            "pass the alias of a PostgreSQL database (--database / alias=)"
        )


def install_triggers(
    alias: str = "default", model_list: Iterable[type[models.Model]] | None = None
) -> list[str]:
    """Create (or replace) the NOTIFY trigger on each model table. Returns the tables."""
    _require_postgres(alias)
    conn = connections[alias]
    tables = _tables(model_list)
    with conn.cursor() as cursor:
        cursor.execute(_FUNCTION_SQL)
        for table in tables:
            qt = conn.ops.quote_name(table)
            cursor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {qt}")
            cursor.execute(
                f"CREATE TRIGGER {TRIGGER} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {qt} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
            )
    return tables


def drop_triggers(
    alias: str = "default", model_list: Iterable[type[models.Model]] | None = None
) -> list[str]:
    _require_postgres(alias)
    conn = connections[alias]
    tables = _tables(model_list)
    with conn.cursor() as cursor:
        for table in tables:
            cursor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {conn.ops.quote_name(table)}")
    return tables


def table_names(alias: str, table: str) -> set[str]:
    """Tokens a change notified for ``table`` replaces: everything on the table."""
    ns = _tokens.namespace(alias)
    return {
        _tokens.table(ns, table),
        _tokens.bulk(ns, table),
        _tokens.inserts(ns, table),
        _tokens.any_write(ns),
    }


def _connect(alias: str) -> Any:
    import psycopg

    s = connections[alias].settings_dict
    params: dict[str, Any] = {"dbname": s["NAME"], "autocommit": True}
    for key, name in (("USER", "user"), ("PASSWORD", "password"), ("HOST", "host"), ("PORT", "port")):
        if s.get(key):
            params[name] = s[key]
    return psycopg.connect(**params)


def listen(
    alias: str = "default",
    *,
    timeout: float | None = None,
    stop: threading.Event | None = None,
    ready: threading.Event | None = None,
) -> int:
    """Apply notifications until ``stop`` is set or ``timeout`` seconds passed. Returns the
    number of notifications applied. ``ready`` is set once LISTEN is active."""
    _require_postgres(alias)
    deadline = None if timeout is None else time.monotonic() + timeout
    count = 0
    with _connect(alias) as pg:
        pg.execute(f"LISTEN {CHANNEL}")
        if ready is not None:
            ready.set()
        while not (stop is not None and stop.is_set()):
            if deadline is not None and time.monotonic() >= deadline:
                break
            slice_ = 0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic()))
            for note in pg.notifies(timeout=slice_):
                _tracking.apply_invalidation(alias, table_names(alias, note.payload))
                count += 1
    return count


class InstallNotifyTriggers(Operation):
    """Migration operation: install the NOTIFY triggers on the given models' tables."""

    reversible = True
    reduces_to_sql = False

    def __init__(self, model_labels: Sequence[str] | None = None) -> None:
        self.model_labels = list(model_labels) if model_labels is not None else None

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (f"{__name__}.{type(self).__name__}", [self.model_labels], {})

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def _models(self) -> list[type[models.Model]] | None:
        if self.model_labels is None:
            return None
        return [apps.get_model(label) for label in self.model_labels]

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            install_triggers(schema_editor.connection.alias, self._models())

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            drop_triggers(schema_editor.connection.alias, self._models())

    def describe(self) -> str:
        return "Install nexus-cache NOTIFY triggers"


__all__ = ["InstallNotifyTriggers", "drop_triggers", "install_triggers", "listen", "table_names"]
