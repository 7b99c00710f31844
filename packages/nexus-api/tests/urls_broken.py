"""A URLconf that fails to import, for the checks and command tests."""

from __future__ import annotations

raise ImportError("this URLconf is broken on purpose")
