"""Read the membership log for many records at once (one paginated search)."""

from collections.abc import Iterable
from typing import Any

from ..search_indices.paging import batched, iter_hits
from .documents import alias_name
from .membership import PairHistory, fold_by_pair

EVENT_SORT = [
    {"record_id": "asc"},
    {"community_id": "asc"},
    {"event_date": "asc"},
    {"event_type": "asc"},
    {"timestamp": {"order": "asc", "missing": "_first"}},
]
"""Total order of the log; deterministic ids make the tuple unique per document."""

PAGE_SIZE = 5_000
"""Hits per page: a backfill chunk (500 versions, a few scopes each) fits one page."""


def read_histories(
    client,
    record_ids: Iterable[str],
    scopes: Iterable[str] | None = None,
) -> dict[tuple[str, str], PairHistory]:
    """Fold every event of ``record_ids`` (optionally only ``scopes``) by pair."""
    ids = sorted(set(record_ids))
    hits: list[dict[str, Any]] = []
    scope_filter = sorted(set(scopes)) if scopes is not None else None
    for batch in batched(ids):
        filters: list[dict[str, Any]] = [{"terms": {"record_id": batch}}]
        if scope_filter is not None:
            filters.append({"terms": {"community_id": scope_filter}})
        hits.extend(
            iter_hits(
                client,
                index=alias_name(),
                body={"query": {"bool": {"filter": filters}}},
                sort=EVENT_SORT,
                page_size=PAGE_SIZE,
            )
        )
    return fold_by_pair(hits)


def has_any_event(client) -> bool:
    """Whether the log holds at least one document (any writer, any version)."""
    response = client.search(
        index=alias_name(),
        body={"size": 0, "query": {"match_all": {}}, "terminate_after": 1},
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    total = response["hits"]["total"]
    return (total["value"] if isinstance(total, dict) else total) > 0
