"""Signals sent by nexus-cache."""

from __future__ import annotations

from django.dispatch import Signal

#: Sent after tokens were replaced (after the writing transaction committed, or by
#: ``invalidate()``). Arguments: ``alias`` (the database alias whose write caused it, or
#: None for explicit invalidations) and ``tokens`` (frozenset of token names).
invalidated = Signal()

__all__ = ["invalidated"]
