"""Aggregation bookmarks: the last final day of each (aggregator, scope) (04 §7.3).

One document per pair in ``{P}stats-bookmarks-community``, id
``<aggregator>_<scope>``, upserted. Only a write creates the index; readers treat a
missing index as "no bookmarks", so ``status`` and ``read`` never create it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from invenio_search.utils import prefix_index

from ..community_events.marker import BOOKMARKS_INDEX, MARKER_TYPE
from ..search_indices.paging import iter_hits
from ..search_indices.templates import ensure_bookmark_indices
from ..timeutils import parse_utc


@dataclass(frozen=True)
class AggregationBookmark:
    """One stored bookmark (``date`` is what ``invenio stats`` prints)."""

    aggregation_type: str
    community_id: str
    date: date


def bookmark_id(aggregation_type: str, scope: str) -> str:
    """Return ``<aggregation name>_<community_id>``."""
    return f"{aggregation_type}_{scope}"


class BookmarkStore:
    """Read and write aggregation bookmarks."""

    def __init__(self, client):
        """Use ``client`` for every request."""
        self.client = client
        self.index = prefix_index(BOOKMARKS_INDEX)

    def get(self, aggregation_type: str, scope: str) -> date | None:
        """Return the bookmark day, or None (no document, or no index)."""
        response = self.client.get(
            index=self.index, id=bookmark_id(aggregation_type, scope), ignore=404
        )
        if not response.get("found"):
            return None
        moment = parse_utc(response["_source"]["date"])
        return moment.date() if moment else None

    def set(self, aggregation_type: str, scope: str, day: date) -> None:
        """Upsert the bookmark of a pair (the index is created when missing)."""
        ensure_bookmark_indices(self.client, prefix_index(""))
        self.client.index(
            index=self.index,
            id=bookmark_id(aggregation_type, scope),
            body={
                "date": f"{day.isoformat()}T00:00:00.000",
                "aggregation_type": aggregation_type,
                "community_id": scope,
            },
            refresh=True,
        )

    def list(
        self,
        aggregation_types: Iterable[str] | None = None,
        scopes: Iterable[str] | None = None,
    ) -> list[AggregationBookmark]:
        """Return the stored bookmarks (never the community-events marker)."""
        filters: list[dict] = []
        if aggregation_types is not None:
            filters.append({"terms": {"aggregation_type": list(aggregation_types)}})
        if scopes is not None:
            filters.append({"terms": {"community_id": list(scopes)}})
        query = {
            "bool": {
                "filter": filters,
                "must_not": [{"term": {"aggregation_type": MARKER_TYPE}}],
            }
        }
        found = []
        for hit in iter_hits(
            self.client,
            index=self.index,
            body={"query": query},
            sort=[{"aggregation_type": "asc"}, {"community_id": "asc"}],
        ):
            source = hit["_source"]
            moment: datetime | None = parse_utc(source["date"])
            if moment is not None:
                found.append(
                    AggregationBookmark(
                        source["aggregation_type"],
                        source["community_id"],
                        moment.date(),
                    )
                )
        return found

    def delete(self, aggregation_type: str, scope: str) -> bool:
        """Delete one bookmark; return whether it existed."""
        response = self.client.delete(
            index=self.index,
            id=bookmark_id(aggregation_type, scope),
            refresh=True,
            ignore=404,
        )
        return response.get("result") == "deleted"
