"""Structured log lines: one ``event=... task=... id=...`` line per task state change.

Each record also carries the same fields as ``extra`` attributes (``nexus_event``,
``task_name``, ``task_id``, ``duration_ms``...), so a JSON log formatter gets them as keys
and a plain formatter still prints a greppable line.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("nexus_tasks")


def log_event(event: str, task_name: str, task_id: str, level: int = logging.INFO, **fields: Any) -> None:
    if not logger.isEnabledFor(level):
        return
    parts = [f"event={event}", f"task={task_name}", f"id={task_id}"]
    parts += [f"{key}={_fmt(value)}" for key, value in fields.items()]
    extra = {"nexus_event": event, "task_name": task_name, "task_id": task_id}
    extra.update({k: v for k, v in fields.items() if k not in ("message", "args", "msg")})
    logger.log(level, " ".join(parts), extra=extra)


def _fmt(value: Any) -> str:
    text = str(value)
    if not text or any(c in text for c in ' "='):
        escaped = text.replace('"', '\\"')
        return f'"{escaped}"'
    return text
