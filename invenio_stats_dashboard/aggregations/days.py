"""Whole UTC days and the date fields every stats document carries (04 §3)."""

from collections.abc import Iterator
from datetime import date, datetime, timedelta

from ..timeutils import format_utc


def days_between(first: date, last: date) -> Iterator[date]:
    """Yield every day from ``first`` to ``last``, both included."""
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def day_start_label(day: date) -> str:
    """Return ``YYYY-MM-DDT00:00:00`` (``period_start``, ``snapshot_date``)."""
    return f"{day.isoformat()}T00:00:00"


def day_end_label(day: date) -> str:
    """Return ``YYYY-MM-DDT23:59:59``: a label only, selection is half-open."""
    return f"{day.isoformat()}T23:59:59"


def compute_time(now: datetime) -> str:
    """Return the ``timestamp`` / ``updated_timestamp`` form of a compute time."""
    return format_utc(now, millis=False)
