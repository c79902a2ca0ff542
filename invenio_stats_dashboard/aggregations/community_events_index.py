"""The ``community-events-agg`` registry entry (07 §7.3).

It exists so that invenio-stats registers the community-events index template through
``STATS_AGGREGATIONS``. It aggregates nothing: invenio-stats' CLI may build and call it
like any aggregation (09 §3 step 8), and each call is a no-op that never touches the
membership log.
"""

from typing import Any


class CommunityEventsIndexAggregator:
    """Registry entry carrying the community-events template; does nothing."""

    def __init__(self, name: str, **params: Any):
        """Keep the registered name; no parameters are used."""
        self.name = name

    def run(self, start_date=None, end_date=None, update_bookmark=True) -> list:
        """Aggregate nothing: community events are written by their own services."""
        return []

    def delete(self, start_date=None, end_date=None) -> None:
        """Delete nothing: the membership log is never removed through this entry."""

    def list_bookmarks(self, start_date=None, end_date=None, limit=None) -> list:
        """Return no bookmarks: this entry keeps none."""
        return []
