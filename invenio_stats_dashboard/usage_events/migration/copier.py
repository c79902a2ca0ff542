"""Copy one month batch by batch from its cursor, with enrichment (03 §4.7).

Two copiers share the loop, the guards and the bookmark writes. The
:class:`WindowCopier` (the default) copies a time window of about a batch per
range ``_reindex`` (:mod:`.windows`). The :class:`BatchCopier` reads client
batches, for enrichment that may read any event field. Per client batch: health
check, one sorted read after the cursor (only the fields enrichment needs), one
enrichment (one records search, one membership search), one server-side write of
the batch's ids under their own ids without refresh (:mod:`.server_copy`), then one
bookmark write advancing the cursor. A kill between
the write and the bookmark re-copies that batch on the next run, under the same ids.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ...search_indices.bulk import item_reason, item_result
from ..enricher import EventEnricher
from . import server_copy, windows
from .bookmarks import Bookmark, BookmarkStore
from .health import HealthCheckResult
from .windows import Window, timestamp_range

EVENT_SORT = [{"timestamp": "asc"}, {"_id": "asc"}]
ATTEMPTS = 3
BACKOFF = 0.5
PIECES = 4
MIN_PIECE = 500
WRITERS = 1
"""A batch is written in up to four pieces (windows, or parts of a client batch), one
on the cluster while the next is enriched here (measured: two at a time, or eight
pieces, were slower on two cores)."""

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

    query: dict[str, Any] | None = None
    """The events a batch pass reads (None: all of them)."""

    def __post_init__(self) -> None:
        # Writer threads have no application context to resolve a proxy in.
        self.client = getattr(self.client, "_get_current_object", lambda: self.client)()

    def batch_body(self, cursor: list[Any] | None) -> dict[str, Any]:
        """Return the search of the next batch after ``cursor``."""
        body: dict[str, Any] = {
            "query": self.query or {"match_all": {}},
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
        return self.reading(
            source, lambda: self.client.search(index=source, body=body)["hits"]["hits"]
        )

    def reading(self, source: str, read: Callable[[], Any]) -> Any:
        """Return what ``read`` returns, retried with back-off; raise if it keeps failing."""
        last: Exception | None = None
        for attempt in range(ATTEMPTS):
            try:
                return read()
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
        with ThreadPoolExecutor(max_workers=WRITERS) as writers:
            pieces = []
            for piece in _pieces(hits):
                params = server_copy.script_params(self.enricher, piece)
                ids = [hit["_id"] for hit in piece]
                written = writers.submit(
                    server_copy.reindex_events, self.client, source, target, ids, params
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
        self.copy_batches(bookmark, source, target, outcome)
        return outcome

    def copy_batches(
        self,
        bookmark: Bookmark,
        source: str,
        target: str,
        outcome: CopyOutcome,
        query: dict[str, Any] | None = None,
    ) -> bool:
        """Copy client batches after the cursor; return whether the loop may go on.

        ``query`` limits the events read (the default reads them all).
        """
        self.query = query
        try:
            while self.may_continue(outcome):
                hits = self.read_batch(source, bookmark.cursor)
                if not hits:
                    return True
                outcome.batches_attempted += 1
                failed = self.write_batch(hits, source, target)
                if not self.written(
                    bookmark, outcome, failed, target, hits[-1], len(hits)
                ):
                    return False
                if len(hits) < self.batch_size:
                    return True
            return False
        finally:
            self.query = None

    def may_continue(self, outcome: CopyOutcome) -> bool:
        """Check the cap, a stop request and the cluster's health before a batch."""
        if self.max_batches and outcome.batches_attempted >= self.max_batches:
            outcome.status = CAPPED
            return False
        if self.should_stop():
            outcome.status = STOPPED
            return False
        health = self.health_check()
        if not health.is_healthy:
            outcome.status, outcome.health = UNHEALTHY, health
            return False
        return True

    def written(
        self,
        bookmark: Bookmark,
        outcome: CopyOutcome,
        failed: list[dict[str, Any]],
        target: str,
        last: dict[str, Any],
        copied: int,
    ) -> bool:
        """Advance the cursor to ``last`` after a written batch, or fail the copy."""
        if failed:
            outcome.status = FAILED
            outcome.failures = [_failure(item) for item in failed[:10]]
            outcome.error = (
                f"{len(failed)} events could not be written to {target}; "
                f"first: {outcome.failures[0]['id']}: {outcome.failures[0]['reason']}"
            )
            return False
        self.before_bookmark(bookmark)
        bookmark.advance(last, copied)
        self.store.put(bookmark)
        outcome.batches_succeeded += 1
        outcome.copied += copied
        self.on_batch(copied)
        return True


@dataclass
class WindowCopier(BatchCopier):
    """Copy a month window by window with range ``_reindex`` requests (:mod:`.windows`).

    Used when enrichment reads only the events' key fields. A resumed run first
    copies, in client batches, the events that share the cursor's millisecond,
    since a window starts on a whole millisecond.
    """

    def copy(self, bookmark: Bookmark, source: str, target: str) -> CopyOutcome:
        """Copy from the bookmark's cursor until the end, the cap or a stop."""
        outcome = CopyOutcome()
        cursor = bookmark.cursor
        start = None
        if cursor is not None:
            start = int(cursor[0]) + 1
            ties = timestamp_range(gte=cursor[0], lte=cursor[0])
            if not self.copy_batches(bookmark, source, target, outcome, ties):
                return outcome
        size = max(1, min(self.batch_size, max(MIN_PIECE, self.batch_size // PIECES)))
        planned = self.reading(
            source, lambda: windows.plan_windows(self.client, source, start, size)
        )
        with ThreadPoolExecutor(max_workers=WRITERS) as writer:
            for batch in windows.batches_of(planned, self.batch_size):
                if not self.may_continue(outcome):
                    break
                if not self._copy_batch(
                    batch, writer, bookmark, outcome, source, target
                ):
                    break
        return outcome

    def _copy_batch(
        self,
        batch: list[Window],
        writer: ThreadPoolExecutor,
        bookmark: Bookmark,
        outcome: CopyOutcome,
        source: str,
        target: str,
    ) -> bool:
        """Copy one batch of windows, then advance the cursor; False if it failed.

        Each window is written on the cluster while the next one is read and
        enriched here. Nothing of the next batch is read before this batch's
        bookmark is written, so a kill re-reads at most this batch.
        """
        last: dict[str, Any] | None = None
        copied, failed = 0, []  # type: tuple[int, list[dict[str, Any]]]
        in_flight: Future | None = None
        for window in batch:
            content = self.reading(
                source, partial(windows.read_window, self.client, source, window)
            )
            if content.last is None:
                continue
            params = server_copy.key_params(self.enricher, content.keys)
            if in_flight is not None:
                written, failures = in_flight.result()
                copied, failed, in_flight = copied + written, failed + failures, None
                if failed:
                    break
            in_flight = writer.submit(
                self._write_window, window, params, source, target
            )
            last = content.last
        if in_flight is not None:
            written, failures = in_flight.result()
            copied, failed = copied + written, failed + failures
        if last is None:
            return True  # the windows emptied since they were planned
        outcome.batches_attempted += 1
        return self.written(bookmark, outcome, failed, target, last, copied)

    def _write_window(
        self, window: Window, params: dict[str, Any], source: str, target: str
    ) -> tuple[int, list[dict[str, Any]]]:
        """Copy one window; retry a failed request, then failed events by id.

        Return the events written and the failed items left after the retries.
        """
        error: Exception | None = None
        for attempt in range(ATTEMPTS):
            try:
                copied, failed = server_copy.reindex_window(
                    self.client, source, target, window.query(), params
                )
                break
            except server_copy.ReindexError as failure:
                error = failure
                self.sleep(BACKOFF * 2**attempt)
        else:
            reason = f"{window}: {error}"
            return 0, [server_copy.failed_item(None, 500, "reindex_failed", reason)]
        ids = [str(item_result(item).get("_id") or "") for item in failed]
        if failed and all(ids):
            failed = self._retry(ids, params, failed, source, target)
            copied += len(ids) - len(failed)
        return copied, failed


def _pieces(hits: list[dict]) -> list[list[dict]]:
    """Split a batch into up to ``PIECES`` parts of at least ``MIN_PIECE`` events."""
    count = max(1, min(PIECES, len(hits) // MIN_PIECE))
    size = -(-len(hits) // count)
    return [hits[start : start + size] for start in range(0, len(hits), size)]


def _failure(item: dict[str, Any]) -> dict[str, Any]:
    return {"id": item_result(item).get("_id"), "reason": item_reason(item)}
