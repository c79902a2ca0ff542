"""Copy one month batch by batch from its cursor, with enrichment (03 §4.7).

Per batch: health check, one sorted read after the cursor (only the fields
enrichment needs), one enrichment (one records search, one membership search), one
server-side write of the batch's ids under their own ids without refresh
(:mod:`.server_copy`), then one bookmark write advancing the cursor. A kill between
the write and the bookmark re-copies that batch on the next run, under the same ids.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ...search_indices.bulk import item_reason, item_result
from ..enricher import EventEnricher
from . import server_copy
from .bookmarks import Bookmark, BookmarkStore
from .health import HealthCheckResult

EVENT_SORT = [{"timestamp": "asc"}, {"_id": "asc"}]
ATTEMPTS = 3
BACKOFF = 0.5
PIECES = 4
MIN_PIECE = 500
WRITERS = 1
"""A batch is written in up to four pieces, one on the cluster while the next is
enriched here (measured: two at a time, or eight pieces, were slower on two cores)."""

DONE = "done"
CAPPED = "capped"
UNHEALTHY = "unhealthy"
FAILED = "failed"
STOPPED = "stopped"


@dataclass
class CopyOutcome:
    """How a copy pass ended."""

    status: str = DONE
    copied: int = 0
    batches_attempted: int = 0
    batches_succeeded: int = 0
    health: HealthCheckResult | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)
    """First failed items (id and reason) of a batch that kept failing."""
    error: str | None = None


class ReadFailedError(Exception):
    """The source could not be read after every retry (never "end of data")."""


@dataclass
class BatchCopier:
    """Copy events from a source index into a target under their own ids."""

    client: Any
    enricher: EventEnricher
    store: BookmarkStore
    batch_size: int
    max_batches: int
    health_check: Callable[[], HealthCheckResult]
    should_stop: Callable[[], bool] = lambda: False
    on_batch: Callable[[int], None] = lambda copied: None
    sleep: Callable[[float], None] = time.sleep
    before_bookmark: Callable[[Bookmark], None] = lambda bookmark: None
    """Test hook: runs between a batch's bulk write and its bookmark write."""

    def batch_body(self, cursor: list[Any] | None) -> dict[str, Any]:
        """Return the search of the next batch after ``cursor``."""
        body: dict[str, Any] = {
            "query": {"match_all": {}},
            "size": self.batch_size,
            "sort": EVENT_SORT,
            "track_total_hits": False,
        }
        if cursor is not None:
            body["search_after"] = cursor
        read = self.enricher.event_fields_read()
        if read is not None:
            body["_source"] = {"includes": read}
        return body

    def read_batch(self, source: str, cursor: list[Any] | None) -> list[dict]:
        """Return the next batch after ``cursor``; retry, never read failure as end."""
        body = self.batch_body(cursor)
        last: Exception | None = None
        for attempt in range(ATTEMPTS):
            try:
                return self.client.search(index=source, body=body)["hits"]["hits"]
            except Exception as error:
                last = error
                self.sleep(BACKOFF * 2**attempt)
        raise ReadFailedError(f"reading {source} failed: {last}")

    def write_batch(
        self, hits: list[dict], source: str, target: str
    ) -> list[dict[str, Any]]:
        """Enrich and copy ``hits``; retry failed items; return those still failing.

        The batch's records and memberships are looked up once; then the batch is
        written in pieces, each piece's ``_reindex`` running on the cluster while
        the next piece's enrichment is computed here. Every piece has finished
        before this returns, so the bookmark written next covers the whole batch.
        """
        self.enricher.load(str(hit["_source"].get("recid") or "") for hit in hits)
        # The writer threads have no application context to resolve a proxy in.
        client = getattr(self.client, "_get_current_object", lambda: self.client)()
        with ThreadPoolExecutor(max_workers=WRITERS) as writers:
            pieces = []
            for piece in _pieces(hits):
                params = server_copy.script_params(self.enricher, piece)
                ids = [hit["_id"] for hit in piece]
                written = writers.submit(
                    server_copy.reindex_events, client, source, target, ids, params
                )
                pieces.append((ids, params, written))
            results = [
                (ids, params, written.result()) for ids, params, written in pieces
            ]
        failed: list[dict[str, Any]] = []
        for ids, params, first in results:
            failed.extend(self._retry(ids, params, first, source, target))
        return failed

    def _retry(
        self,
        ids: list[str],
        params: dict[str, Any],
        failed: list[dict[str, Any]],
        source: str,
        target: str,
    ) -> list[dict[str, Any]]:
        """Write the failed ids of one piece again, with back-off; return the rest."""
        for attempt in range(ATTEMPTS):
            if not failed:
                return []
            failed_ids = {item_result(item).get("_id") for item in failed}
            # A failure without a known id retries the whole piece.
            ids = [i for i in ids if i in failed_ids] or ids
            self.sleep(BACKOFF * 2**attempt)
            failed = server_copy.reindex_events(
                self.client, source, target, ids, params
            )
        return failed

    def copy(self, bookmark: Bookmark, source: str, target: str) -> CopyOutcome:
        """Copy from the bookmark's cursor until the end, the cap or a stop."""
        outcome = CopyOutcome()
        while True:
            if self.max_batches and outcome.batches_attempted >= self.max_batches:
                outcome.status = CAPPED
                return outcome
            if self.should_stop():
                outcome.status = STOPPED
                return outcome
            health = self.health_check()
            if not health.is_healthy:
                outcome.status, outcome.health = UNHEALTHY, health
                return outcome
            hits = self.read_batch(source, bookmark.cursor)
            if not hits:
                return outcome
            outcome.batches_attempted += 1
            failed = self.write_batch(hits, source, target)
            if failed:
                outcome.status = FAILED
                outcome.failures = [_failure(item) for item in failed[:10]]
                outcome.error = (
                    f"{len(failed)} events could not be written to {target}; "
                    f"first: {outcome.failures[0]['id']}: {outcome.failures[0]['reason']}"
                )
                return outcome
            self.before_bookmark(bookmark)
            bookmark.advance(hits[-1], len(hits))
            self.store.put(bookmark)
            outcome.batches_succeeded += 1
            outcome.copied += len(hits)
            self.on_batch(len(hits))
            if len(hits) < self.batch_size:
                return outcome


def _pieces(hits: list[dict]) -> list[list[dict]]:
    """Split a batch into up to ``PIECES`` parts of at least ``MIN_PIECE`` events."""
    count = max(1, min(PIECES, len(hits) // MIN_PIECE))
    size = -(-len(hits) // count)
    return [hits[start : start + size] for start in range(0, len(hits), size)]


def _failure(item: dict[str, Any]) -> dict[str, Any]:
    return {"id": item_result(item).get("_id"), "reason": item_reason(item)}
