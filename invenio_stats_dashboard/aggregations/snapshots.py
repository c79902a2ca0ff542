"""What every snapshot pass shares: its base, its deltas, its gaps (04 §7.5).

A snapshot pass starts from the stored snapshot of the day before its range (or
the latest earlier one, or zeros at the scope start), reads the range's delta
documents in day order, page by page, and never runs past the delta's bookmark.
A delta day missing inside the range ends the pass at the day before it and moves
the delta's bookmark back, so the next run refills it.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from typing import Any

from invenio_search.utils import prefix_index

from ..search_indices.paging import search_after_pages
from ..timeutils import parse_utc
from .base import DailyAggregator, PassContext
from .bookmarks import BookmarkStore
from .composite import composite_buckets
from .days import day_start_label
from .names import ALIASES, document_id, yearly_index
from .scope_start import earliest_day

ONE_DAY = timedelta(days=1)


class DeltaDataGapError(Exception):
    """A delta document is missing inside a snapshot pass's range."""


class SnapshotAggregator(DailyAggregator):
    """A daily aggregator whose documents accumulate another one's deltas."""

    date_field = "snapshot_date"
    delta_name: str = ""

    @property
    def delta_alias(self) -> str:
        """Return the prefixed read alias of the delta documents."""
        return prefix_index(ALIASES[self.delta_name])

    def scope_start(self, client, scope: str) -> date | None:
        """Return the first day of the scope's delta documents."""
        return earliest_day(
            client, self.delta_alias, "period_start", {"term": {"community_id": scope}}
        )

    def last_possible_day(self, client, scope: str) -> date | None:
        """Return the delta's bookmark: a snapshot never outruns its delta."""
        return BookmarkStore(client).get(self.delta_name, scope) or date.min

    # What a subclass provides -------------------------------------------------

    def start_state(
        self,
        client,
        context: PassContext,
        base_day: date | None,
        base: dict[str, Any] | None,
        days: tuple[date, date],
    ) -> Any:
        """Return the running state at the end of ``base_day`` (zeros without base).

        ``days`` are the first and last day the state will be carried through.
        """
        raise NotImplementedError

    def next_document(
        self, state: Any, day: date, delta: dict[str, Any], context: PassContext
    ) -> dict[str, Any]:
        """Add ``delta`` to ``state`` and return the snapshot of ``day``."""
        raise NotImplementedError

    # The pass ------------------------------------------------------------------

    def documents(
        self, client, context: PassContext
    ) -> Iterable[tuple[date, dict[str, Any]]]:
        """Yield one snapshot per day from the base on; stop at a delta gap."""
        base_day, base = self._base(client, context.scope, context.first - ONE_DAY)
        start = (
            base_day + ONE_DAY if base_day else self.scope_start(client, context.scope)
        )
        if start is None:
            return
        state = self.start_state(client, context, base_day, base, (start, context.last))
        expected = start
        for day, delta in self._deltas(client, context, start, context.last):
            if day != expected:
                break
            yield day, self.next_document(state, day, delta, context)
            expected += ONE_DAY
        if expected <= context.last:
            self._gap(client, context, expected)

    def _base(
        self, client, scope: str, day: date
    ) -> tuple[date | None, dict[str, Any] | None]:
        """Return the snapshot of ``day``, else the latest earlier one in scope."""
        response = client.get(
            index=yearly_index(self.alias, day), id=document_id(scope, day), ignore=404
        )
        if response.get("found"):
            return day, response["_source"]
        start = self.scope_start(client, scope)
        if start is None or day < start:
            return None, None
        found = client.search(
            index=prefix_index(self.alias),
            body={
                "size": 1,
                "query": {
                    "bool": {
                        "filter": [
                            {"term": {"community_id": scope}},
                            {
                                "range": {
                                    "snapshot_date": {
                                        "gte": day_start_label(start),
                                        "lt": day_start_label(day),
                                    }
                                }
                            },
                        ]
                    }
                },
                "sort": [{"snapshot_date": "desc"}],
            },
            ignore_unavailable=True,
        )["hits"]["hits"]
        if not found:
            return None, None
        moment = parse_utc(found[0]["_source"]["snapshot_date"])
        return (moment.date() if moment else None), found[0]["_source"]

    def _deltas(
        self, client, context: PassContext, first: date, last: date
    ) -> Iterator[tuple[date, dict[str, Any]]]:
        """Yield the scope's delta documents from ``first`` to ``last`` in day order.

        Pages start at the delta buffer size and shrink with the memory budget.
        """
        scope, pages = context.scope, context.pages
        buffer = int(
            self.config.get("COMMUNITY_STATS_DELTA_BUFFER_SIZE")
            or self.config["COMMUNITY_STATS_SCAN_PAGE_SIZE"]
        )
        body = {
            "query": {
                "bool": {
                    "filter": [
                        {"term": {"community_id": scope}},
                        {
                            "range": {
                                "period_start": {
                                    "gte": day_start_label(first),
                                    "lt": day_start_label(last + ONE_DAY),
                                }
                            }
                        },
                    ]
                }
            }
        }
        for page in search_after_pages(
            client,
            index=self.delta_alias,
            body=body,
            sort=[{"period_start": "asc"}],
            page_size=lambda: pages.next_size(buffer),
        ):
            for hit in page:
                moment = parse_utc(hit["_source"]["period_start"])
                if moment is not None:
                    yield moment.date(), hit["_source"]

    def _gap(self, client, context: PassContext, missing: date) -> None:
        """Report a missing delta day and move the delta's bookmark back to it."""
        context.error = (
            f"{DeltaDataGapError.__name__}: no {self.delta_name} document for "
            f"{missing.isoformat()}"
        )
        store = BookmarkStore(client)
        current = store.get(self.delta_name, context.scope)
        if current is not None and current > missing:
            store.set(self.delta_name, context.scope, missing)


def ranked(items: dict[str, dict[str, Any]], total, limit: int) -> list[dict[str, Any]]:
    """Return at most ``limit`` items with ``total(item) > 0``, largest first.

    Ties are broken by id ascending (04 §4.4, §5.4).
    """
    candidates = ((-total(item), item_id) for item_id, item in items.items())
    best = heapq.nsmallest(limit, (entry for entry in candidates if entry[0] < 0))
    return [{"id": item_id, **items[item_id]} for _, item_id in best]


def item_sums(
    client, delta_alias: str, scope: str, key: str, last: date, paths: list[str]
) -> dict[str, dict[str, int]]:
    """Return ``{item id: {path: sum}}`` over the scope's deltas up to ``last``.

    One paged composite under the ``subcounts.<key>`` nested documents: the
    exhaustive per-item totals a "top" ranking is chosen from, without reading
    the days of history one by one.
    """
    nested = f"subcounts.{key}"
    aggs = {
        path.replace(".", "__"): {"sum": {"field": f"{nested}.{path}"}}
        for path in paths
    }
    sums: dict[str, dict[str, int]] = {}
    for bucket in composite_buckets(
        client,
        delta_alias,
        {
            "bool": {
                "filter": [
                    {"term": {"community_id": scope}},
                    {"range": {"period_start": {"lte": day_start_label(last)}}},
                ]
            }
        },
        [{"id": {"terms": {"field": f"{nested}.id"}}}],
        aggs,
        nested_path=nested,
    ):
        sums[str(bucket["key"]["id"])] = {
            path: int(round(bucket[path.replace(".", "__")]["value"] or 0))
            for path in paths
        }
    return sums


def latest_label(client, delta_alias: str, scope: str, key: str, item_id: str) -> Any:
    """Return the label of an item in the scope's latest delta carrying it."""
    nested = f"subcounts.{key}"
    hits = client.search(
        index=delta_alias,
        body={
            "size": 1,
            "_source": [nested],
            "query": {
                "bool": {
                    "filter": [
                        {"term": {"community_id": scope}},
                        {
                            "nested": {
                                "path": nested,
                                "query": {"term": {f"{nested}.id": item_id}},
                            }
                        },
                    ]
                }
            },
            "sort": [{"period_start": "desc"}],
        },
        ignore_unavailable=True,
    )["hits"]["hits"]
    for hit in hits:
        for entry in (hit["_source"].get("subcounts") or {}).get(key) or []:
            if entry.get("id") == item_id:
                return entry.get("label")
    return None
