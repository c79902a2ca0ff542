"""What one pass of one aggregator over one scope did (04 §8: the run report)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

COMPLETED = "completed"
NOTHING_TO_DO = "nothing to do"
FAILED = "failed"
INTERRUPTED = "interrupted"
MEMORY_BUDGET = "memory budget"
"""Stopped at the last written day: over the memory budget at the minimum page."""


@dataclass
class PassReport:
    """One (aggregator, scope) pass; JSON-serialisable through :meth:`as_dict`."""

    aggregator: str
    scope: str
    status: str = COMPLETED
    first_day: date | None = None
    last_day: date | None = None
    documents: int = 0
    bookmark_before: date | None = None
    bookmark_after: date | None = None
    requests: int = 0
    searches: int = 0
    duration: float = 0.0
    error: str | None = None
    note: str = ""
    years: list[int] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def days(self) -> int:
        """Return the number of days the pass covered."""
        if self.first_day is None or self.last_day is None:
            return 0
        return (self.last_day - self.first_day).days + 1

    def as_dict(self) -> dict[str, Any]:
        """Return the report with ISO dates, ready for JSON or msgpack."""
        values = asdict(self)
        for key, value in values.items():
            if isinstance(value, date):
                values[key] = value.isoformat()
        values["days"] = self.days
        return values
