"""Where the next Celery pass of ``aggregate --no-eager`` starts (04 §9).

``--no-eager`` sends one task per pass: each task makes one pass per aggregator and
scope, and the CLI reads the task's JSON report to decide whether another pass is
needed, and from which day, as the in-process run does between its passes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from .ranges import ONE_DAY
from .reports import COMPLETED


def resume_day(report: Mapping[str, Any], target: date) -> date | None:
    """Return the first day of the next pass, or None when every scope is caught up.

    A completed pass that ended before ``target`` needs another pass from the day
    after its last day; the earliest of those days is where the next task starts
    (scopes further ahead only recompute days they already wrote, which is safe).
    """
    behind = [
        date.fromisoformat(entry["last_day"])
        for result in report.get("results", [])
        for entry in result.get("passes", [])
        if entry.get("status") == COMPLETED
        and entry.get("last_day")
        and date.fromisoformat(entry["last_day"]) < target
    ]
    return min(behind) + ONE_DAY if behind else None
