"""The run report as text (04 §8 ``formatted_report``; the CLI prints it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .run import RunResult


def _day(value) -> str:
    return value.isoformat() if value is not None else "-"


def format_report(result: RunResult, verbose: bool = False) -> str:
    """Return the report: one line per aggregator, per scope with ``verbose``."""
    lines = [f"Aggregation {result.status} in {result.total_duration:.1f} s"]
    if result.message:
        lines.append(f"  {result.message}")
    for entry in result.results:
        documents = sum(p.documents for p in entry.passes)
        days = sum(p.days for p in entry.passes)
        scopes = len({p.scope for p in entry.passes})
        lines.append(
            f"{entry.name}: {entry.status}; {documents:,} documents, {days:,} "
            f"scope-days, {scopes:,} scopes"
        )
        if entry.message and entry.message != result.message:
            lines.append(f"  {entry.message}")
        for report in entry.passes:
            if report.error:
                lines.append(f"  {report.scope}: {report.status}: {report.error}")
            if not verbose:
                continue
            lines.append(
                f"  {report.scope}: {report.status} {_day(report.first_day)} → "
                f"{_day(report.last_day)}, {report.documents:,} documents, bookmark "
                f"{_day(report.bookmark_before)} → {_day(report.bookmark_after)}, "
                f"{report.requests:,} requests, {report.duration:.2f} s"
                + (f" ({report.note})" if report.note else "")
            )
            missing = report.details.get("missing_records")
            if missing:
                lines.append(
                    f"    versions without a record document: {', '.join(missing)}"
                )
    return "\n".join(lines)
