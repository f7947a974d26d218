"""How Attestia writes a moment for people and for ``--json``: ISO 8601 with the UTC offset
(``2026-12-08T01:00:02+00:00`` in the local time zone), never a bare unix number."""

from __future__ import annotations

from datetime import datetime


def iso(timestamp: int | None) -> str | None:
    """A unix time as ISO 8601 in the local time zone; 0 and None (never set) stay None."""
    if not timestamp:
        return None
    return datetime.fromtimestamp(int(timestamp)).astimezone().isoformat(timespec="seconds")
