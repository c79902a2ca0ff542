"""Backfill and repair of the membership log from the records index (02 §5).

The records index is scanned with a point-in-time and ``search_after`` (no cap), in
chunks of 500 versions. Per chunk: one paginated read of the log, at most two
searches for backfill dates, one bulk write. The alias is refreshed once at the end.
"""

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from invenio_search.utils import prefix_index

from ..communities import CommunityDirectory
from ..search_indices.bulk import bulk_write, item_result
from ..search_indices.paging import RECORDS_ALIAS, count, iter_hits, point_in_time
from ..timeutils import end_of_day, format_utc, start_of_day, utc_now
from .backfill_plan import ChunkPlan, plan_actions, plan_chunk
from .documents import alias_name, version_from_source
from .inclusion_dates import InclusionDates
from .log_reader import read_histories

logger = logging.getLogger(__name__)

CHUNK_SIZE = 500
RECORD_SOURCE = [
    "id",
    "created",
    "parent.id",
    "parent.communities.ids",
    "metadata.publication_date",
    "deletion_status",
    "is_deleted",
    "tombstone.removal_date",
]


@dataclass(frozen=True)
class BackfillFilters:
    """The ``generate``/``status`` filters, already validated and resolved."""

    record_ids: tuple[str, ...] | None = None
    community_ids: tuple[str, ...] | None = None
    start_date: date | None = None
    end_date: date | None = None

    @property
    def unfiltered(self) -> bool:
        """Whether the run covers the whole instance (only then is a marker written)."""
        return not (
            self.record_ids or self.community_ids or self.start_date or self.end_date
        )

    def records_query(self) -> dict[str, Any]:
        """Build the records-index query of step 3 (filters combined with AND)."""
        filters: list[dict[str, Any]] = []
        if self.record_ids:
            filters.append({"terms": {"id": list(self.record_ids)}})
        created: dict[str, str] = {}
        if self.start_date:
            created["gte"] = format_utc(start_of_day(self.start_date))
        if self.end_date:
            created["lte"] = format_utc(end_of_day(self.end_date))
        if created:
            filters.append({"range": {"created": created}})
        return {"bool": {"filter": filters}} if filters else {"match_all": {}}


@dataclass
class BackfillReport:
    """Totals of one counting or writing pass."""

    total_records: int = 0
    records_processed: int = 0
    records_needing_events: int = 0
    total_events_needed: int = 0
    community_breakdown: Counter = field(default_factory=Counter)
    stale_memberships: int = 0
    deletion_flag_mismatches: int = 0
    old_events_found: int = 0
    added_written: int = 0
    removed_written: int = 0
    flags_fixed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def new_events_created(self) -> int:
        """Documents written: ``added`` plus ``removed``."""
        return self.added_written + self.removed_written

    @property
    def nothing_missing(self) -> bool:
        """Whether the log already matches the records in scope."""
        return not (
            self.total_events_needed
            or self.stale_memberships
            or self.deletion_flag_mismatches
        )

    def add_plan(self, plan: ChunkPlan) -> None:
        """Accumulate a chunk's counts."""
        self.records_needing_events += plan.records_needing_events
        self.total_events_needed += len(plan.missing)
        self.community_breakdown.update(plan.breakdown())
        self.stale_memberships += len(plan.stale)
        self.deletion_flag_mismatches += len(plan.flags)
        self.old_events_found += plan.present


ProgressCallback = Callable[[int, "BackfillReport"], None]


class CommunityEventsBackfill:
    """One counting or writing pass over the versions selected by the filters."""

    def __init__(
        self,
        client,
        filters: BackfillFilters,
        *,
        now: datetime | None = None,
        chunk_size: int = CHUNK_SIZE,
        on_chunk: ProgressCallback | None = None,
        checkpoint: Callable[[], None] | None = None,
    ):
        """Keep the collaborators; ``checkpoint`` may raise to stop between chunks."""
        self.client = client
        self.filters = filters
        self.now = now or utc_now()
        self.chunk_size = chunk_size
        self.on_chunk = on_chunk
        self.checkpoint = checkpoint
        self.scope_filter = (
            set(filters.community_ids) if filters.community_ids else None
        )
        self._community_created: dict[str, datetime] | None = None

    def count_total(self) -> int:
        """Versions the pass will examine."""
        return count(
            self.client, prefix_index(RECORDS_ALIAS), self.filters.records_query()
        )

    def run(self, write: bool) -> BackfillReport:
        """Examine every selected version; write what is missing when ``write``."""
        report = BackfillReport(total_records=self.count_total())
        records = prefix_index(RECORDS_ALIAS)
        with point_in_time(self.client, records) as pit_id:
            chunk: list[dict[str, Any]] = []
            for hit in iter_hits(
                self.client,
                pit_id=pit_id,
                body={
                    "query": self.filters.records_query(),
                    "_source": RECORD_SOURCE,
                },
                sort=[{"parent.id": "asc"}, {"id": "asc"}],
            ):
                chunk.append(hit["_source"])
                if len(chunk) >= self.chunk_size:
                    self._process(chunk, report, write)
                    chunk = []
            if chunk:
                self._process(chunk, report, write)
        if write and report.new_events_created + report.flags_fixed:
            self.client.indices.refresh(index=alias_name())
        return report

    def _process(
        self, sources: list[dict[str, Any]], report: BackfillReport, write: bool
    ) -> None:
        if self.checkpoint is not None:
            self.checkpoint()
        versions = []
        for source in sources:
            try:
                versions.append(version_from_source(source))
            except (KeyError, TypeError, ValueError) as error:
                report.failures.append((source.get("id", "?"), f"bad record: {error}"))
        histories = read_histories(self.client, [v.record_id for v in versions])
        plan = plan_chunk(versions, histories, self.scope_filter)
        report.add_plan(plan)
        if write:
            self._write(plan, versions, report)
        report.records_processed += len(sources)
        if self.on_chunk is not None:
            self.on_chunk(len(sources), report)

    def _write(self, plan: ChunkPlan, versions, report: BackfillReport) -> None:
        dates = None
        if plan.missing:
            dates = InclusionDates.for_versions(
                self.client, versions, self.community_created()
            )
        actions = plan_actions(plan, dates, self.now)
        failed: list[dict[str, Any]] = []
        bulk_write(self.client, actions, failed_items=failed)
        failed_ids = {_item_id(item) for item in failed}
        if failed:
            _record_failures(failed, actions, plan, report)
        for action in actions:
            if action["_id"] in failed_ids:
                continue
            if action["_op_type"] == "update":
                report.flags_fixed += 1
            elif action["_source"]["event_type"] == "added":
                report.added_written += 1
            else:
                report.removed_written += 1

    def community_created(self) -> dict[str, datetime]:
        """Return every community's ``created``, loaded once per pass."""
        if self._community_created is None:
            directory = CommunityDirectory.load(self.client)
            self._community_created = directory.created_times()
        return self._community_created


def _item_id(item: dict[str, Any]) -> str:
    return str(item_result(item).get("_id", ""))


def _item_error(item: dict[str, Any]) -> str:
    error = item_result(item).get("error") or {}
    if isinstance(error, dict):
        return f"{error.get('type', 'error')}: {error.get('reason', '')}"
    return str(error)


def _record_failures(
    failed: list[dict[str, Any]],
    actions: list[dict[str, Any]],
    plan: ChunkPlan,
    report: BackfillReport,
) -> None:
    """Report each version with a failed document once, with the first reason."""
    owners = {hit["_id"]: version.record_id for version, hit in plan.flags}
    owners.update(
        {a["_id"]: a["_source"]["record_id"] for a in actions if "_source" in a}
    )
    failed_versions = {record_id for record_id, _ in report.failures}
    for item in failed:
        owner = owners.get(_item_id(item), "?")
        if owner not in failed_versions:
            failed_versions.add(owner)
            report.failures.append((owner, _item_error(item)))
