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
