"""``CeleryEmailBackend``: Django's email API, sent from a worker after commit.

``send_messages`` serialises each message to JSON (attachments as base64, alternatives,
headers, reply-to, cc and bcc kept), enqueues one task per message — on commit, or
through the outbox with ``DISPATCH = "outbox"`` — and returns the number queued, as
Django expects. The worker sends it with the backend in ``NEXUS_TASKS["EMAIL_BACKEND"]``
and retries SMTP and network errors with backoff.
"""

from __future__ import annotations

import base64
import email
import email.policy
import smtplib
from collections.abc import Sequence
from email.message import MIMEPart
from email.mime.base import MIMEBase
from typing import Any

import django
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.utils.module_loading import import_string

from nexus_tasks._task import task
from nexus_tasks.conf import get_settings


def _encode_content(content: Any) -> dict[str, str]:
    if isinstance(content, bytes):
        return {"b64": base64.b64encode(content).decode("ascii")}
    return {"text": str(content)}


def _decode_content(data: dict[str, str]) -> str | bytes:
    if "b64" in data:
        return base64.b64decode(data["b64"])
    return data["text"]


def serialize_message(message: EmailMessage) -> dict[str, Any]:
    attachments: list[dict[str, Any]] = []
    for attachment in message.attachments:
        if isinstance(attachment, tuple):
            filename, content, mimetype = attachment
            attachments.append(
                {"filename": filename, "content": _encode_content(content), "mimetype": mimetype}
            )
        else:  # a MIME object attached as is
            attachments.append({"mime": base64.b64encode(attachment.as_bytes()).decode("ascii")})
    alternatives = [
        {"content": _encode_content(alt[0]), "mimetype": alt[1]}
        for alt in getattr(message, "alternatives", [])
    ]
    return {
        "subject": str(message.subject),
        "body": str(message.body),
        "from_email": message.from_email,
        "to": list(message.to),
        "cc": list(message.cc),
        "bcc": list(message.bcc),
        "reply_to": list(message.reply_to),
        "headers": {str(k): str(v) for k, v in message.extra_headers.items()},
        "attachments": attachments,
        "alternatives": alternatives,
        "content_subtype": message.content_subtype,
        "mixed_subtype": getattr(message, "mixed_subtype", "mixed"),
        "encoding": message.encoding if isinstance(message.encoding, str) else None,
    }


def _mime_part(raw: bytes) -> Any:
    """Rebuild an attached MIME object: a ``MIMEPart`` on Django >= 6.0 (which deprecates
    ``MIMEBase`` attachments), a ``MIMEBase`` before."""
    if django.VERSION >= (6, 0):
        return email.message_from_bytes(raw, _class=MIMEPart, policy=email.policy.default)  # type: ignore[arg-type]
    parsed = email.message_from_bytes(raw)
    part = MIMEBase(parsed.get_content_maintype(), parsed.get_content_subtype())
    for key in list(part.keys()):
        del part[key]
    for key, value in parsed.items():
        part[key] = value
    part.set_payload(parsed.get_payload())
    return part


def deserialize_message(data: dict[str, Any]) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=data["subject"],
        body=data["body"],
        from_email=data["from_email"],
        to=data["to"],
        cc=data["cc"],
        bcc=data["bcc"],
        reply_to=data["reply_to"],
        headers=data["headers"],
    )
    message.content_subtype = data["content_subtype"]
    if hasattr(message, "mixed_subtype"):  # removed in Django 6.0
        message.mixed_subtype = data["mixed_subtype"]
    if data.get("encoding"):
        message.encoding = data["encoding"]
    for alternative in data["alternatives"]:
        message.attach_alternative(_decode_content(alternative["content"]), alternative["mimetype"])
    for attachment in data["attachments"]:
        if "mime" in attachment:
            message.attach(_mime_part(base64.b64decode(attachment["mime"])))
        else:
            message.attach(
                attachment["filename"], _decode_content(attachment["content"]), attachment["mimetype"]
            )
    return message


@task(name="nexus_tasks.send_email", retry_on=(smtplib.SMTPException, OSError), max_retries=5)
def send_email(payload: dict[str, Any]) -> int:
    """Send one queued message with the real backend (``NEXUS_TASKS["EMAIL_BACKEND"]``).

    The backend class is built directly (not through ``get_connection``, deprecated in
    Django 6.1), without ``fail_silently``: a failure must raise so that it is retried.
    """
    backend_class = import_string(get_settings().EMAIL_BACKEND)
    connection = backend_class()
    sent: int = connection.send_messages([deserialize_message(payload)]) or 0
    return sent


class CeleryEmailBackend(BaseEmailBackend):
    """``EMAIL_BACKEND = "nexus_tasks.mail.CeleryEmailBackend"`` (Django 6.1's ``MAILERS``:
    ``{"default": {"BACKEND": "nexus_tasks.mail.CeleryEmailBackend", "OPTIONS": {"using":
    "default"}}}``)."""

    def __init__(self, fail_silently: bool = False, *, using: str | None = None, **kwargs: Any) -> None:
        # fail_silently is kept here, not passed up: Django 6.1 deprecates it on the base
        # class ("a subclass that supports fail_silently must set its own attribute").
        super().__init__(**kwargs)
        self.fail_silently = fail_silently
        self.using = using

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        count = 0
        for message in email_messages:
            if not message.recipients():
                continue
            try:
                options: dict[str, Any] = {"using": self.using} if self.using else {}
                send_email.enqueue_with(args=(serialize_message(message),), **options)
            except Exception:
                if not self.fail_silently:
                    raise
                continue
            count += 1
        return count
