"""The one wall clock and the one timestamp format (ISO-8601 UTC with a ``Z``)."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["iso_utc", "utc_now"]


def utc_now() -> datetime:
    """Return the current UTC time (services take it injected, so tests can pin it)."""
    return datetime.now(UTC)


def iso_utc(moment: datetime, timespec: str = "auto") -> str:
    """Format ``moment`` as ISO-8601 with a ``Z`` instead of ``+00:00``."""
    return moment.isoformat(timespec=timespec).replace("+00:00", "Z")
