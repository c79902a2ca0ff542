"""Input checks of the aggregation commands (04 §9, 06 §4.1)."""

from __future__ import annotations

from datetime import date, datetime

import click

from ..aggregations.names import RESERVED_NAMES, RUN_ORDER
from ..timeutils import utc_now


class AggregatorChoice(click.Choice):
    """The four registered aggregators; the reserved date-basis names get 04's message."""

    def __init__(self) -> None:
        """Offer the names in run order."""
        super().__init__(list(RUN_ORDER))

    def convert(self, value, param, ctx):
        """Refuse reserved names with their own reason, others as Click does."""
        if value in RESERVED_NAMES:
            self.fail(f"{value}: date basis not available in this version", param, ctx)
        return super().convert(value, param, ctx)


def aggregation_day(value: str | None, option: str) -> date | None:
    """Parse ``YYYY-MM-DD`` or an ISO datetime (floored to its day)."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        raise click.UsageError(
            f"{option}: expected YYYY-MM-DD or an ISO datetime, got {value!r}"
        ) from None


def aggregation_range(
    start: str | None, end: str | None
) -> tuple[date | None, date | None]:
    """Parse the range; a start after the end or in the future exits 2."""
    first = aggregation_day(start, "--start-date")
    last = aggregation_day(end, "--end-date")
    today = utc_now().date()
    if first and first > today:
        raise click.UsageError(f"--start-date {first} is in the future")
    if first and last and first > last:
        raise click.UsageError(f"--start-date {first} is after --end-date {last}")
    return first, last
