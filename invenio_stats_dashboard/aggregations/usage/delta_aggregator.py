"""``community-usage-delta-agg``: daily view and download counts (04 §5.2)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from ..base import DailyAggregator, PassContext
from ..names import USAGE_DELTA, USAGE_SNAPSHOT
from ..scope_start import records_start, usage_start
from ..subcounts import subcount_specs
from .delta import delta_documents, search_range


class UsageDeltaAggregator(DailyAggregator):
    """Write one usage delta document per scope and day."""

    name = USAGE_DELTA
    dependent = USAGE_SNAPSHOT

    def scope_start(self, client, scope: str) -> date | None:
        """Return the earlier of the records start and the first counted event."""
        return usage_start(client, scope, records_start(client, scope))

    def documents(
        self, client, context: PassContext
    ) -> Iterable[tuple[date, dict[str, Any]]]:
        """Search the whole range at once, then yield each day's document."""
        specs = subcount_specs(self.config["COMMUNITY_STATS_SUBCOUNTS"], "usage_events")
        scope, first, last = context.scope, context.first, context.last
        found = search_range(client, scope, first, last, specs)
        return delta_documents(scope, first, last, specs, found, context.computed_at)
