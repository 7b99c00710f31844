"""System checks for NEXUS_TASKS: misconfiguration is reported by ``manage.py check``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error, Info, register

from nexus_tasks.conf import DEFAULTS, DISPATCH_MODES, SETTING_NAME, STORES, user_settings

_TYPES: dict[str, tuple[type, ...]] = {
    "DISPATCH": (str,),
    "PUBLISH_TIMEOUT": (int, float),
    "PUBLISH_BREAKER_SECONDS": (int, float),
    "STORE": (str,),
    "REDIS_URL": (str, type(None)),
    "KEY_PREFIX": (str,),
    "MAX_RETRIES": (int,),
    "RETRY_BACKOFF": (int, float),
    "RETRY_BACKOFF_MAX": (int, float),
    "MAX_DELIVERIES": (int,),
    "UNIQUE_TTL": (int,),
    "IDEMPOTENCY_TTL": (int,),
    "OUTBOX_BATCH_SIZE": (int,),
    "OUTBOX_CLAIM_TIMEOUT": (int,),
    "OUTBOX_RETENTION": (int,),
    "RELAY_INTERVAL": (int, float),
    "RELAY_BACKOFF_MAX": (int, float),
    "EMAIL_BACKEND": (str,),
    "HEALTH_MAX_OUTBOX_AGE": (int,),
    "BEAT_LOCK_TTL": (int,),
}


def _has_type(value: object, types: tuple[type, ...]) -> bool:
    # bool is a subclass of int, but PUBLISH_TIMEOUT=True is a mistake, not one second.
    if isinstance(value, bool):
        return bool in types
    return isinstance(value, types)


@register()
def check_settings(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    raw = user_settings()
    if not isinstance(raw, dict):
        return [
            Error(
                f"{SETTING_NAME} must be a dict, not {type(raw).__name__}.",
                hint=f"Set {SETTING_NAME} = {{...}} with keys from: {', '.join(sorted(DEFAULTS))}.",
                id="nexus_tasks.E001",
            )
        ]
    errors: list[CheckMessage] = []
    for key in sorted(set(raw) - set(DEFAULTS)):
        errors.append(
            Error(
                f"{SETTING_NAME}[{key!r}] is not a nexus-tasks setting.",
                hint=f"Known settings: {', '.join(sorted(DEFAULTS))}.",
                id="nexus_tasks.E002",
            )
        )
    for key, types in _TYPES.items():
        if key in raw and not _has_type(raw[key], types):
            errors.append(
                Error(
                    f"{SETTING_NAME}[{key!r}] must be {' or '.join(t.__name__ for t in types)}, "
                    f"not {type(raw[key]).__name__}.",
                    id="nexus_tasks.E003",
                )
            )
    dispatch = raw.get("DISPATCH", DEFAULTS["DISPATCH"])
    if isinstance(dispatch, str) and dispatch not in DISPATCH_MODES:
        errors.append(
            Error(
                f"{SETTING_NAME}['DISPATCH'] is {dispatch!r}.",
                hint=f"Use one of: {', '.join(repr(m) for m in DISPATCH_MODES)}.",
                id="nexus_tasks.E004",
            )
        )
    store = raw.get("STORE", DEFAULTS["STORE"])
    if isinstance(store, str) and store not in STORES:
        errors.append(
            Error(
                f"{SETTING_NAME}['STORE'] is {store!r}.",
                hint=f"Use one of: {', '.join(repr(m) for m in STORES)}.",
                id="nexus_tasks.E006",
            )
        )
    timeout = raw.get("PUBLISH_TIMEOUT", DEFAULTS["PUBLISH_TIMEOUT"])
    if _has_type(timeout, (int, float)) and timeout <= 0:
        errors.append(
            Error(
                f"{SETTING_NAME}['PUBLISH_TIMEOUT'] must be a positive number of seconds.",
                hint="A publish at commit must be bounded so that a dead broker cannot hang a request.",
                id="nexus_tasks.E005",
            )
        )
    return errors


@register()
def check_idempotency_store(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """``nexus_tasks.I001``: idempotent tasks on the Redis store get the weaker guarantee.

    Info, not a warning: the Redis store is a valid choice for bodies that are safe to
    repeat, and a project that made it should not fail ``check --fail-level WARNING``.
    Only tasks whose module is imported by the time checks run are seen.
    """
    from nexus_tasks._task import idempotent_task_names

    raw = user_settings()
    if not isinstance(raw, dict) or raw.get("STORE") != "redis":
        return []
    names = idempotent_task_names()
    if not names:
        return []
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return [
        Info(
            f"{SETTING_NAME}['STORE'] is 'redis': idempotent tasks ({shown}) record their "
            "completion after the body returns, so a worker that dies in between runs the "
            "body again (at least once).",
            hint="With STORE = 'database' (the default) the completion record commits in the "
            "body's transaction and its database writes happen exactly once. Keep 'redis' "
            "only for bodies that are safe to repeat.",
            id="nexus_tasks.I001",
        )
    ]
