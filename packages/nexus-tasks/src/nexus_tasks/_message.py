"""A task message before it is published: what ``enqueue`` hands to the dispatcher, and
what an outbox row stores (as kombu JSON, so type tags survive)."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from typing import Any

from kombu.utils import json as kombu_json

#: kombu's JSON with its type tags (typed here: kombu ships no annotations).
dumps: Callable[..., str] = kombu_json.dumps
loads: Callable[[str], Any] = kombu_json.loads


@dataclasses.dataclass
class Message:
    task_name: str
    task_id: str
    args: list[Any]
    kwargs: dict[str, Any]
    #: Celery publish options: ``countdown``, ``eta``, ``queue``, ``priority``, ``headers``...
    options: dict[str, Any]
    using: str = "default"
    #: The unique-lock key this message owns (released if it can never be queued).
    unique_key: str | None = None

    def encode(self) -> str:
        options = dict(self.options)
        # A countdown is relative to the moment of enqueue, not to a later relay publish.
        countdown = options.pop("countdown", None)
        if countdown is not None and "eta" not in options:
            options["eta"] = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=countdown)
        text: str = dumps(
            {
                "args": self.args,
                "kwargs": self.kwargs,
                "options": options,
                "using": self.using,
                "unique_key": self.unique_key,
            }
        )
        return text

    @classmethod
    def decode(cls, task_name: str, task_id: str, payload: str) -> Message:
        data = loads(payload)
        return cls(
            task_name=task_name,
            task_id=task_id,
            args=list(data["args"]),
            kwargs=dict(data["kwargs"]),
            options=dict(data["options"]),
            using=data.get("using") or "default",
            unique_key=data.get("unique_key"),
        )
