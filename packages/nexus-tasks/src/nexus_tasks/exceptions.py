"""Errors raised by nexus-tasks at the call site, where the caller can still fix them."""

from __future__ import annotations


class TaskArgumentError(TypeError):
    """An argument cannot travel in a JSON message.

    Raised by ``enqueue()`` before anything is written or sent, naming the parameter (from
    the task function's signature) and the path inside it, so the mistake is found where it
    was made instead of in a worker log hours later.
    """

    def __init__(self, message: str, *, parameter: str | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.path = path


class TaskPublishError(RuntimeError):
    """The broker did not accept a message within ``PUBLISH_TIMEOUT`` and no outbox could
    keep it: the work is not queued and the caller must decide what to do."""
