"""``CommunityStatsService``: the public entry to the statistics capabilities (09 §6).

Community events are served here now; aggregation and reading join it with their
capabilities. Each method takes its collaborators from the app unless given.
"""

from collections.abc import Callable, Iterable
from datetime import date

from flask import current_app
from invenio_search.proxies import current_search_client

from ..communities import GLOBAL_SCOPE, CommunityDirectory
from ..community_events.backfill import (
    BackfillFilters,
    BackfillReport,
    CommunityEventsBackfill,
)
from ..community_events.components import missing_components
from ..community_events.log_reader import has_any_event
from ..community_events.marker import read_marker, write_marker
from ..locks import task_lock
from ..proxies import current_community_stats
from ..timeutils import format_utc, utc_now

COMMUNITY_EVENTS_LOCK_SECTION = "community_events"


def _as_date(value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


class CommunityStatsService:
    """Backfill, status and (later) aggregation of community statistics."""

    def __init__(self, client=None):
        """Use ``client`` or the app's search client."""
        self._client = client

    @property
    def client(self):
        """The search client in use."""
        return self._client or current_search_client

    def backfill_filters(
        self,
        recids: Iterable[str] | None = None,
        community_ids: Iterable[str] | None = None,
        start_date: date | str | None = None,
        end_date: date | str | None = None,
    ) -> BackfillFilters:
        """Validate and resolve the filters (slugs become ids)."""
        communities = None
        if community_ids:
            directory = CommunityDirectory.load(self.client)
            communities = tuple(directory.resolve(list(community_ids)))
        start, end = _as_date(start_date), _as_date(end_date)
        if start and end and start > end:
            raise ValueError(f"start date {start} is after end date {end}")
        return BackfillFilters(
            record_ids=tuple(recids) if recids else None,
            community_ids=communities,
            start_date=start,
            end_date=end,
        )

    def run_backfill(
        self,
        filters: BackfillFilters,
        *,
        on_chunk: Callable | None = None,
        checkpoint: Callable[[], None] | None = None,
    ) -> BackfillReport:
        """Write what the log lacks under the backfill lock; mark completion."""
        with task_lock(COMMUNITY_EVENTS_LOCK_SECTION):
            current_community_stats.ensure_search_setup()
            backfill = CommunityEventsBackfill(
                self.client, filters, on_chunk=on_chunk, checkpoint=checkpoint
            )
            report = backfill.run(write=True)
            if filters.unfiltered and not report.failures:
                write_marker(self.client, utc_now())
        return report

    def count_versions(self, filters: BackfillFilters) -> int:
        """Return how many versions the filters select."""
        return CommunityEventsBackfill(self.client, filters).count_total()

    def mark_initialized(self, filters: BackfillFilters) -> None:
        """Write the completion marker after an unfiltered run found nothing missing."""
        if filters.unfiltered:
            current_community_stats.ensure_search_setup()
            write_marker(self.client, utc_now())

    def count_backfill(
        self,
        filters: BackfillFilters,
        *,
        on_chunk: Callable | None = None,
        checkpoint: Callable[[], None] | None = None,
    ) -> BackfillReport:
        """Count what ``generate`` would write, writing nothing."""
        return CommunityEventsBackfill(
            self.client, filters, on_chunk=on_chunk, checkpoint=checkpoint
        ).run(write=False)

    def generate_record_community_events(
        self, recids=None, community_ids=None, start_date=None, end_date=None
    ) -> tuple[int, int, int]:
        """Backfill; return ``(records_processed, new_events_created, old_events_found)``."""
        filters = self.backfill_filters(recids, community_ids, start_date, end_date)
        report = self.run_backfill(filters)
        return (
            report.records_processed,
            report.new_events_created,
            report.old_events_found,
        )

    def count_records_needing_events(
        self, recids=None, community_ids=None, start_date=None, end_date=None
    ) -> dict:
        """Read-only status of the log for the filtered versions (02 §5, §6)."""
        filters = self.backfill_filters(recids, community_ids, start_date, end_date)
        return self.events_status(filters, self.count_backfill(filters))

    def events_status(self, filters: BackfillFilters, report: BackfillReport) -> dict:
        """Build the status dict of a counting pass (writes only the one-time marker)."""
        marker = read_marker(self.client)
        if (
            marker is None
            and filters.unfiltered
            and report.nothing_missing
            and not report.failures
            and has_any_event(self.client)
        ):
            marker = utc_now()
            write_marker(self.client, marker)
        tracking_active, tracking_reason = self.live_tracking()
        return {
            "total_records": report.total_records,
            "records_needing_events": report.records_needing_events,
            "total_events_needed": report.total_events_needed,
            "community_breakdown": dict(report.community_breakdown),
            "communities_checked": self.communities_checked(filters),
            "stale_memberships": report.stale_memberships,
            "deletion_flag_mismatches": report.deletion_flag_mismatches,
            "initialized": marker is not None,
            "initialized_at": format_utc(marker) if marker else None,
            "live_tracking_active": tracking_active,
            "live_tracking_reason": tracking_reason,
        }

    def communities_checked(self, filters: BackfillFilters) -> list[str]:
        """Scopes the status covered: the filter, or ``global`` and every community."""
        if filters.community_ids:
            return list(filters.community_ids)
        directory = CommunityDirectory.load(self.client)
        return [GLOBAL_SCOPE, *sorted(directory.by_id)]

    @staticmethod
    def live_tracking() -> tuple[bool, str | None]:
        """Whether the live writers run: upstream hooks exist and ours are listed."""
        status = current_community_stats.hook_status
        if status is not None and not status.active:
            return False, status.reason
        missing = missing_components(current_app.config)
        if missing:
            return False, "component not configured in " + ", ".join(missing)
        return True, None
