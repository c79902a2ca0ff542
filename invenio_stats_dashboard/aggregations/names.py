"""Names of the aggregators, their indices and their documents (04 §2, 01 §6)."""

from datetime import date

from invenio_search.utils import prefix_index

USAGE_DELTA = "community-usage-delta-agg"
RECORDS_DELTA = "community-records-delta-added-agg"
RECORDS_SNAPSHOT = "community-records-snapshot-added-agg"
USAGE_SNAPSHOT = "community-usage-snapshot-agg"
COMMUNITY_EVENTS = "community-events-agg"

RUN_ORDER = (USAGE_DELTA, RECORDS_DELTA, RECORDS_SNAPSHOT, USAGE_SNAPSHOT)
"""The canonical order: each delta runs before the snapshot built on it."""

ALIASES = {
    USAGE_DELTA: "stats-community-usage-delta",
    RECORDS_DELTA: "stats-community-records-delta-added",
    RECORDS_SNAPSHOT: "stats-community-records-snapshot-added",
    USAGE_SNAPSHOT: "stats-community-usage-snapshot",
}
"""Read alias of each aggregator's documents (unprefixed)."""

RESERVED_NAMES = tuple(
    f"community-records-{kind}-{basis}-agg"
    for kind in ("delta", "snapshot")
    for basis in ("created", "published")
)
"""Names kept for the other date bases, which this version does not offer."""


def yearly_index(alias: str, day: date) -> str:
    """Return the prefixed concrete index that holds ``day``'s document."""
    return prefix_index(f"{alias}-{day.year}")


def document_id(scope: str, day: date) -> str:
    """Return the id of a scope's document of one day (``global-2025-05-30``)."""
    return f"{scope}-{day.isoformat()}"
