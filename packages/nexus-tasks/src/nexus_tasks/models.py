"""Tables of nexus-tasks: the outbox, dead letters, and the database store of locks/records."""

from __future__ import annotations

from django.db import models


class OutboxMessage(models.Model):
    """A task message written in the caller's transaction and published after commit.

    The row exists if and only if the transaction committed, so a broker outage at commit
    time loses nothing: the relay publishes every row whose ``sent_at`` is empty.
    ``claimed_until`` keeps two publishers (the committing process and a relay, or two
    relays) off the same row; an expired claim belongs to a publisher that died.
    """

    task_id = models.CharField(max_length=64, unique=True)
    task_name = models.CharField(max_length=255)
    #: ``{"args": [...], "kwargs": {...}, "options": {...}}`` as kombu JSON (type tags kept).
    payload = models.TextField()
    created_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField()
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["sent_at", "next_attempt_at"], name="nexus_outbox_pending")]

    def __str__(self) -> str:
        return f"{self.task_name}[{self.task_id}]"


class DeadLetter(models.Model):
    """A message that will not be run again: retries exhausted or the worker kept dying.

    Kept with everything needed to inspect and re-enqueue it by hand; counted by the
    health report.
    """

    task_id = models.CharField(max_length=64, db_index=True)
    task_name = models.CharField(max_length=255)
    payload = models.TextField()
    reason = models.CharField(max_length=32)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.task_name}[{self.task_id}] ({self.reason})"


class StoreEntry(models.Model):
    """One key of the database store: a unique lock (``token`` = owner), an idempotency
    record or a task record. Expired rows count as absent and are overwritten."""

    key = models.CharField(max_length=255, primary_key=True)
    token = models.CharField(max_length=64, blank=True, default="")
    value = models.TextField(blank=True, default="")
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.key
