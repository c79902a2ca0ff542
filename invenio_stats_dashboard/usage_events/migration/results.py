"""Results of a migration run, per month and in total (03 §4.9, §4.11)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from ...timeutils import format_utc, utc_now

COMPLETED = "completed"
INTERRUPTED = "interrupted"
FAILED = "failed"
SKIPPED = "skipped"


@dataclass
class SpotCheck:
    """Field-by-field comparison of sampled events (03 §4.9 item 3)."""

    success: bool = True
    errors: list[str] = field(default_factory=list)
    details: list[dict[str, Any]] = field(default_factory=list)
    documents_verified: int = 0
    field_mismatches: int = 0
    document_count_mismatch: bool = False


@dataclass
class ValidationResult:
    """Everything checked before a month is finalised."""

    success: bool = True
    errors: list[str] = field(default_factory=list)
    document_counts: dict[str, Any] = field(default_factory=dict)
    missing_community_ids: int = 0
    spot_check: SpotCheck = field(default_factory=SpotCheck)

    def fail(self, message: str) -> None:
        """Record one failed check."""
        self.success = False
        self.errors.append(message)


@dataclass
class MigrationResult:
    """What one run did to one event type and month."""

    month: str
    event_type: str
    source_index: str
    target_index: str
    status: str = SKIPPED
    processed: int = 0
    migrated_total: int = 0
    source_count: int | None = None
    interrupted: bool = False
    completed: bool = False
    batches_attempted: int = 0
    batches_succeeded: int = 0
    last_processed_id: str | None = None
    validation_errors: list[str] = field(default_factory=list)
    operational_errors: list[dict[str, Any]] = field(default_factory=list)
    start_time: str = field(default_factory=lambda: format_utc(utc_now()))
    total_time: str = "0:00:00"
    total_time_seconds: float = 0.0
    total_time_minutes: float = 0.0
    total_time_hours: float = 0.0
    message: str | None = None
    stop_run: bool = False
    """A health stop: later months of the run are left untouched."""
    capped: bool = False
    """Interrupted only by the per-run batch cap (exit 0)."""
    deleted_old_index: bool = False

    def error(self, kind: str, message: str) -> None:
        """Record an operational error."""
        self.operational_errors.append(
            {"type": kind, "message": message, "timestamp": format_utc(utc_now())}
        )

    def finish(self, status: str, started: datetime) -> MigrationResult:
        """Set the status and the durations."""
        self.status = status
        self.completed = status == COMPLETED
        self.interrupted = status == INTERRUPTED
        seconds = (utc_now() - started).total_seconds()
        self.total_time_seconds = round(seconds, 3)
        self.total_time_minutes = round(seconds / 60, 3)
        self.total_time_hours = round(seconds / 3600, 4)
        whole = int(seconds)
        self.total_time = f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
        return self

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        data = asdict(self)
        data.pop("stop_run")
        return data


@dataclass
class ReindexingResults:
    """The outcome of :meth:`EventReindexingService.reindex_events`."""

    total_processed: int = 0
    total_errors: int = 0
    health_issues: list[str] = field(default_factory=list)
    completed: bool = False
    error: str | None = None
    event_types: dict[str, dict[str, Any]] = field(default_factory=dict)
    refused: bool = False
    """A precondition failed: nothing was done (exit 1)."""
    message: str | None = None
    reenrich: bool = False
    fingerprint: str | None = None
    earliest_reenriched_month: str | None = None
    old_indices_deleted: list[str] = field(default_factory=list)
    """Old or backup indices of earlier-completed months deleted after a re-check."""
    old_indices_kept: list[str] = field(default_factory=list)
    """Old or backup indices whose id-level re-check failed (``index: reason``)."""

    def add(self, result: MigrationResult) -> None:
        """Add one month's result to its event type and the totals."""
        block = self.event_types.setdefault(
            result.event_type, {"processed": 0, "errors": 0, "months": {}}
        )
        block["months"][result.month] = result
        block["processed"] += result.processed
        self.total_processed += result.processed
        if result.status == FAILED:
            block["errors"] += 1
            self.total_errors += 1

    def months(self) -> list[MigrationResult]:
        """Every month result, in processing order."""
        return [
            result
            for block in self.event_types.values()
            for result in block["months"].values()
        ]

    def tally(self) -> dict[str, int]:
        """Months per status."""
        counts = {COMPLETED: 0, INTERRUPTED: 0, FAILED: 0, SKIPPED: 0}
        for result in self.months():
            counts[result.status] = counts.get(result.status, 0) + 1
        return counts

    @property
    def exit_code(self) -> int:
        """0 done or capped only; 1 failed, stopped or refused (03 §4.11)."""
        if self.refused or self.health_issues or self.old_indices_kept:
            return 1
        for result in self.months():
            if result.status == FAILED:
                return 1
            if result.status == INTERRUPTED and not result.capped:
                return 1
        return 0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        data = asdict(self)
        for block in data["event_types"].values():
            for month in block["months"].values():
                month.pop("stop_run", None)
        return data
