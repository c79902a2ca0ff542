"""Which days a pass covers and where its bookmark ends (04 §7.4).

Pure rules, so every case of the table is testable without a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class PassRange:
    """Days ``first`` to ``last`` (inclusive) of one pass."""

    first: date
    last: date
    moves_bookmark: bool
    """Whether the bookmark may follow this pass (it starts no later than bookmark + 1)."""
    reason: str = ""
    """Why the bookmark stays, when it does."""

    @property
    def days(self) -> int:
        """Return the number of days covered."""
        return (self.last - self.first).days + 1


def pass_range(
    *,
    scope_start: date | None,
    bookmark: date | None,
    today: date,
    interval: int,
    start_date: date | None = None,
    end_date: date | None = None,
    ignore_bookmark: bool = False,
    update_bookmark: bool = True,
) -> PassRange | None:
    """Return the range of the next pass, or None when there is nothing to do.

    Start: an explicit date wins; else the scope start with ``ignore_bookmark``;
    else the day before the bookmark (recomputed, for late events); else the scope
    start; never before the scope start. End: the earliest of
    ``end_date``, today and the ``interval``-th new day (after the bookmark when
    continuing, so the recomputed day does not shorten a catch-up).
    """
    if scope_start is None:
        return None
    if start_date is not None:
        first = start_date
    elif ignore_bookmark or bookmark is None:
        first = scope_start
    else:
        first = bookmark - ONE_DAY
    first = max(first, scope_start)
    # a continuing pass recomputes the bookmark's previous day on top of its
    # ``interval`` new days, so a catch-up advances by exactly the interval
    continuing = start_date is None and not ignore_bookmark and bookmark is not None
    new_from = bookmark + ONE_DAY if continuing and bookmark else first
    last = min(end_date or today, today, new_from + timedelta(days=interval - 1))
    if last < first:
        return None
    reason = ""
    if not update_bookmark:
        reason = "--no-update-bookmark"
    elif bookmark is not None and first > bookmark + ONE_DAY:
        reason = (
            f"the pass starts after the day after the bookmark ({bookmark}): "
            "days in between stay unprocessed"
        )
    elif bookmark is None and first > scope_start:
        reason = (
            f"the pass starts after the scope start ({scope_start}) and no bookmark "
            "exists: earlier days stay unprocessed"
        )
    return PassRange(first, last, moves_bookmark=not reason, reason=reason)


def bookmark_after(
    pass_range: PassRange, last_written_day: date | None, current: date | None
) -> date | None:
    """Return the bookmark after a pass: the last day of the unbroken written run.

    It may move backwards (a rebuild from an earlier start). A pass that wrote
    nothing, or may not move the bookmark, leaves it as it was.
    """
    if not pass_range.moves_bookmark or last_written_day is None:
        return current
    return last_written_day
