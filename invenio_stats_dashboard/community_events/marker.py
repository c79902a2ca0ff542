"""The "community events initialised" completion marker (02 §5 step 7).

A document in ``{P}stats-bookmarks-community`` written only by an unfiltered backfill
that finished without failures; aggregators and status read initialisation from it,
never from "the index has some documents".
"""

from datetime import datetime

from invenio_search.utils import prefix_index

from ..communities import GLOBAL_SCOPE
from ..search_indices.templates import ensure_bookmark_indices
from ..timeutils import format_utc, parse_utc

MARKER_TYPE = "community-events-indexing"
BOOKMARKS_INDEX = "stats-bookmarks-community"
MARKER_ID = f"{MARKER_TYPE}_{GLOBAL_SCOPE}"


def read_marker(client) -> datetime | None:
    """When the backfill last completed, or None when it never did."""
    response = client.get(index=prefix_index(BOOKMARKS_INDEX), id=MARKER_ID, ignore=404)
    if not response.get("found"):
        return None
    return parse_utc(response["_source"].get("date"))


def write_marker(client, finished: datetime) -> None:
    """Record a completed unfiltered backfill (upsert, same id every time).

    The bookmark index is checked first, so a marker never lands in an index that
    a write auto-created with a dynamic mapping.
    """
    ensure_bookmark_indices(client, prefix_index(""))
    client.index(
        index=prefix_index(BOOKMARKS_INDEX),
        id=MARKER_ID,
        body={
            "date": format_utc(finished),
            "aggregation_type": MARKER_TYPE,
            "community_id": GLOBAL_SCOPE,
        },
        refresh="wait_for",
    )
