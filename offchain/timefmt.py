"""How Attestia shows a unix time to people: ISO 8601 in the local time zone, to the second.

The one formatter every listing, status and CLI line uses, so a time printed by ``request
status`` reads like the same time printed by ``model list`` or ``chain time``.
"""

from __future__ import annotations

from datetime import datetime


def iso(timestamp: int) -> str:
    """A unix time as ISO 8601 in the local time zone."""
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


def iso_if_set(timestamp: int | None) -> str | None:
    """:func:`iso`, or None for a time never set (None, or the chain's 0 for "not yet")."""
    return iso(timestamp) if timestamp else None
