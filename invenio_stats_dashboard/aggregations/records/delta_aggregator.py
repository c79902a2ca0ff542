"""``community-records-delta-added-agg``: daily membership changes (04 §4.2)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

from ..base import DailyAggregator, PassContext
from ..names import RECORDS_DELTA, RECORDS_SNAPSHOT, document_id, yearly_index
from ..scope_start import records_start
from ..subcounts import subcount_specs
from .delta import DeltaBuilder
from .members import ScopeMembers
from .membership_log import late_change_day, touched_records
from .versions import load_versions


class RecordsDeltaAggregator(DailyAggregator):
    """Write one records delta document per scope and day."""

    name = RECORDS_DELTA
    dependent = RECORDS_SNAPSHOT

    def scope_start(self, client, scope: str) -> date | None:
        """Return the earliest ``event_date`` among the scope's membership events."""
        return records_start(client, scope)

    def rewind_day(
        self, client, scope: str, bookmark: date, first: date
    ) -> date | None:
        """Return the earliest day of a membership change the last pass missed.

        The last pass wrote the bookmark day's document; changes written after it
        and dated before this pass's start move the start back (04 §7.6).
        """
        written = client.get(
            index=yearly_index(self.alias, bookmark),
            id=document_id(scope, bookmark),
            _source_includes=["updated_timestamp"],
            ignore=404,
        )
        if not written.get("found"):
            return None
        stamp = written["_source"].get("updated_timestamp")
        return late_change_day(client, scope, stamp, first) if stamp else None

    def documents(
        self, client, context: PassContext
    ) -> Iterable[tuple[date, dict[str, Any]]]:
        """Read the touched versions, their siblings and their events; replay."""
        return self._documents(client, context)

    def _documents(
        self, client, context: PassContext
    ) -> Iterator[tuple[date, dict[str, Any]]]:
        specs = subcount_specs(self.config["COMMUNITY_STATS_SUBCOUNTS"], "records")
        page = context.pages.next_size
        touched = touched_records(client, context.scope, context.first, context.last)
        versions = {}
        if touched:
            found = load_versions(client, specs, record_ids=touched, page_size=page)
            parents = {version.parent_id for version in found.values()}
            versions = {
                **found,
                **load_versions(client, specs, parent_ids=parents, page_size=page),
            }
            missing = sorted(touched - versions.keys())
            if missing:
                context.details["missing_records"] = missing
        members = (
            ScopeMembers.read(client, context.scope, versions)
            if versions
            else (ScopeMembers({}))
        )
        builder = DeltaBuilder(context.scope, specs, versions, members)
        yield from builder.documents(context.first, context.last, context.computed_at)
