"""The NEXUS_TASKS settings dict: documented defaults, typed access, reload on change.

Read settings through ``get_settings()``; never keep the result in a module global,
because ``override_settings`` in tests replaces it (``setting_changed`` clears it).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

SETTING_NAME = "NEXUS_TASKS"

#: Ways ``enqueue()`` hands a message to the broker.
DISPATCH_MODES = ("on_commit", "outbox")

#: Where locks and idempotency records are kept.
STORES = ("database", "redis")


@dataclasses.dataclass(frozen=True)
class TasksSettings:
    #: ``"on_commit"`` publishes after the surrounding transaction commits; ``"outbox"``
    #: writes every message as a row in that transaction and publishes it after commit,
    #: with a relay retrying while the broker is down (``durable=True`` per call does the
    #: same for one message).
    DISPATCH: str = "on_commit"
    #: Seconds a publish may take at commit before it is abandoned (on-commit) or left to
    #: the relay (outbox): a dead broker must not hang a request.
    PUBLISH_TIMEOUT: float = 1.0
    #: Seconds after a failed publish during which further publishes at commit skip the
    #: broker and go straight to the outbox (a circuit breaker: a commit of many messages
    #: to a dead broker costs one ``PUBLISH_TIMEOUT``, not one per message).
    PUBLISH_BREAKER_SECONDS: float = 5.0
    #: Where unique locks, idempotency records and task ownership live: ``"database"``
    #: (tables of this app; a unique lock is then written in the caller's transaction, and
    #: an idempotent task's completion record in the body's own transaction, so its
    #: database writes happen exactly once) or ``"redis"`` (``REDIS_URL``; needs the
    #: ``redis`` extra; the record follows the body, so a crash in between reruns it).
    #: The default is the one with the stronger guarantee.
    STORE: str = "database"
    #: Redis URL for ``STORE = "redis"``; ``None`` uses ``CELERY_BROKER_URL`` when that is a
    #: Redis URL.
    REDIS_URL: str | None = None
    #: Prefix of every key nexus-tasks writes to Redis (give each project its own).
    KEY_PREFIX: str = "nexus_tasks"
    #: Default ``max_retries`` of ``@task(retry_on=...)``.
    MAX_RETRIES: int = 3
    #: First retry delay in seconds; delays double per attempt (full jitter: a random
    #: delay between 0 and the doubled value) up to ``RETRY_BACKOFF_MAX``.
    RETRY_BACKOFF: float = 1.0
    #: Cap of a retry delay in seconds.
    RETRY_BACKOFF_MAX: float = 600.0
    #: A message delivered this many times (the worker died each time) is dead-lettered
    #: instead of run again, so one poison message cannot crash workers forever.
    MAX_DELIVERIES: int = 5
    #: Default ``unique_ttl`` in seconds: a unique lock whose worker died expires after it.
    UNIQUE_TTL: int = 3600
    #: Seconds an idempotency record (a completed message id or key) is kept.
    IDEMPOTENCY_TTL: int = 7 * 24 * 3600
    #: Messages the relay claims and publishes per batch.
    OUTBOX_BATCH_SIZE: int = 500
    #: Seconds a claimed outbox row stays with its relay; a row claimed longer (its relay
    #: died) is reclaimed by another.
    OUTBOX_CLAIM_TIMEOUT: int = 60
    #: Seconds sent outbox rows are kept before the relay prunes them.
    OUTBOX_RETENTION: int = 7 * 24 * 3600
    #: Seconds the long-running relay sleeps when nothing is pending.
    RELAY_INTERVAL: float = 1.0
    #: Cap in seconds of the relay's backoff for a message the broker keeps refusing.
    RELAY_BACKOFF_MAX: float = 300.0
    #: The backend a worker uses to really send mail queued by ``CeleryEmailBackend``.
    EMAIL_BACKEND: str = "django.core.mail.backends.smtp.EmailBackend"
    #: The health report is unhealthy when the oldest pending outbox row is older (seconds).
    HEALTH_MAX_OUTBOX_AGE: int = 300
    #: Seconds the beat leader lock lives without renewal (``LeaderScheduler``).
    BEAT_LOCK_TTL: int = 60


DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(TasksSettings)}


def user_settings() -> Any:
    return getattr(settings, SETTING_NAME, {})


@functools.cache
def get_settings() -> TasksSettings:
    """The effective settings. Unknown keys and wrong values are reported by system checks
    (``nexus_tasks.E001``...) rather than raised here, so ``manage.py check`` lists every
    problem at once."""
    raw = user_settings()
    if not isinstance(raw, dict):
        return TasksSettings()
    return TasksSettings(**{k: v for k, v in raw.items() if k in DEFAULTS})


@receiver(setting_changed)
def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        get_settings.cache_clear()
