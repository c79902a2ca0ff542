"""Re-enrichment of stored events after a usage-subcount change (03 §5).

Pending months are migrated first (which already applies the new configuration);
every other month behind the read alias is rewritten in place: each event whose
``updated_timestamp`` is older than the campaign ``cutoff`` (or missing) gets the new
enrichment fields under its own ``_id`` in its own index, with optimistic
concurrency, so an event the live indexer just rewrote is skipped. Aliases never
change and nothing is deleted, so the count through the read alias stays the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app

from ...search_indices.bulk import bulk_write, item_result
from ...search_indices.paging import count
from ...timeutils import format_utc, utc_now
from ..enricher import EventEnricher
from ..event_mappings import (
    add_missing_properties,
    enrichment_properties,
    ensure_event_templates,
    index_meta,
    is_enriched_mapping,
)
from ..fields import configured_fields, fingerprint
from ..indexing_state import recent_fingerprints, redis_client
from ..names import EVENT_TYPES, parse_index_name, read_alias
from . import copier as copy_states
from .bookmarks import COMPLETED as PHASE_COMPLETED
from .bookmarks import COPYING, Bookmark, BookmarkStore
from .copier import BatchCopier, ReadFailedError
from .health import check_health, wait_until_healthy
from .months import MonthIndices
from .results import COMPLETED, FAILED, INTERRUPTED, MigrationResult, ReindexingResults

logger = logging.getLogger(__name__)

OLD_WORKERS = "workers still run the old subcount configuration - restart them"
CONFLICT = 409


def stale_query(cutoff: str) -> dict[str, Any]:
    """Events written before ``cutoff``, or never stamped."""
    return {
        "bool": {
            "should": [
                {"range": {"updated_timestamp": {"lt": cutoff}}},
                {"bool": {"must_not": {"exists": {"field": "updated_timestamp"}}}},
            ],
            "minimum_should_match": 1,
        }
    }


def enriched_indices(client, event_type: str) -> list[tuple[str, str]]:
    """``[(month, index)]`` behind the read alias that carry enriched events."""
    alias = read_alias(event_type)
    if not client.indices.exists_alias(name=alias):
        return []
    found = []
    for name, meta in index_meta(client, alias).items():
        parsed = parse_index_name(event_type, name)
        if parsed.month is None:
            continue
        if parsed.kind == "target" or (
            parsed.kind == "monthly" and is_enriched_mapping(meta)
        ):
            found.append((parsed.month, name))
    return sorted(found)


@dataclass
class InPlaceRewriter(BatchCopier):
    """Rewrite the stale events of one index in place, batch by batch from a cursor.

    The batch loop, cursor and bookmark writes are the migration copier's; only the
    read (stale events, with their sequence numbers) and the write (in place, with
    optimistic concurrency, on the client) differ.
    """

    cutoff: str = ""

    def batch_body(self, cursor: list[Any] | None) -> dict[str, Any]:
        """Return the search of the next stale events after ``cursor``, whole."""
        body = super().batch_body(cursor)
        body.pop("_source", None)
        body["query"] = stale_query(self.cutoff)
        body["seq_no_primary_term"] = True
        return body

    def write_batch(
        self, hits: list[dict[str, Any]], source: str, target: str
    ) -> list[dict[str, Any]]:
        """Rewrite ``hits`` in place; return failures other than conflicts."""
        sources = self.enricher.rewritten_sources(hits)
        actions = []
        for hit, rewritten in zip(hits, sources, strict=True):
            actions.append(
                {
                    "_op_type": "index",
                    "_index": target,
                    "_id": hit["_id"],
                    "_source": rewritten,
                    "if_seq_no": hit["_seq_no"],
                    "if_primary_term": hit["_primary_term"],
                }
            )
        failed: list[dict[str, Any]] = []
        bulk_write(self.client, actions, failed_items=failed)
        return [item for item in failed if item_result(item).get("status") != CONFLICT]

    def rewrite(self, index: str, bookmark: Bookmark, result: MigrationResult) -> str:
        """Run batches until no stale event is left, the cap, or a stop."""
        try:
            outcome = self.copy(bookmark, index, index)
        except ReadFailedError as error:
            result.error("read_failed", str(error))
            result.stop_run = True
            return INTERRUPTED
        result.batches_attempted += outcome.batches_attempted
        result.batches_succeeded += outcome.batches_succeeded
        result.processed += outcome.copied
        if outcome.status == copy_states.CAPPED:
            result.capped = True
            result.message = "incomplete: re-run to continue"
            return INTERRUPTED
        if outcome.status == copy_states.UNHEALTHY:
            assert outcome.health is not None  # noqa: S101 - set with the status
            result.error("health_check", outcome.health.reason)
            result.stop_run = True
            return INTERRUPTED
        if outcome.status == copy_states.FAILED:
            first = outcome.failures[0]
            bookmark.last_error = f"{first['id']}: {first['reason']}"
            self.store.put(bookmark)
            result.error("bulk_failed", outcome.error or "events failed to rewrite")
            return FAILED
        if outcome.status == copy_states.STOPPED:
            return INTERRUPTED
        return COMPLETED


def campaign_cutoff(store: BookmarkStore, current: str) -> str:
    """Return the cutoff of the campaign for ``current``, or now for a new one."""
    cutoffs = [
        b.cutoff
        for b in store.all(reenrich=True)
        if b.enrichment_fingerprint == current and b.cutoff
    ]
    return min(cutoffs) if cutoffs else format_utc(utc_now())


def run_reenrichment(
    service,
    options,
    *,
    should_stop: Callable[[], bool] = lambda: False,
    on_start: Callable[[MonthIndices, int, int], None] | None = None,
    on_batch: Callable[[MonthIndices, int], None] | None = None,
) -> ReindexingResults:
    """Migrate pending months, then rewrite stale events in place (lock held)."""
    client = service.client
    fields = configured_fields(current_app.config)
    current = fingerprint(fields)
    results = ReindexingResults(reenrich=True, fingerprint=current)
    state = redis_client()
    try:
        others = [f for f in recent_fingerprints(state) if f != current]
    finally:
        state.close()
    if others:
        results.refused = True
        results.error = OLD_WORKERS
        return results
    store = BookmarkStore(client)
    cutoff = campaign_cutoff(store, current) if store.exists() else None
    prefix = current_app.config.get("SEARCH_INDEX_PREFIX") or ""
    ensure_event_templates(client, prefix, fields)
    for event_type in options.event_types:
        if client.indices.exists_alias(name=read_alias(event_type)):
            add_missing_properties(
                client,
                read_alias(event_type),
                enrichment_properties(EVENT_TYPES[event_type], fields),
            )
    cutoff = cutoff or format_utc(utc_now())
    service.migrate(
        options,
        should_stop=should_stop,
        on_start=on_start,
        on_batch=on_batch,
        results=results,
    )
    if results.refused or results.health_issues:
        return results
    results.reenrich = True
    enricher = EventEnricher(client, fields)
    max_memory = options.max_memory_percent
    for event_type in options.event_types:
        for month, index in enriched_indices(client, event_type):
            if options.months and month not in options.months:
                continue
            if should_stop() or results.health_issues:
                break
            migrated = results.event_types.get(event_type, {}).get("months", {})
            if month in migrated:
                continue  # migrated just now, with the new configuration
            result = _rewrite_month(
                client,
                store,
                enricher,
                options,
                event_type,
                month,
                index,
                cutoff,
                current,
                health_check=lambda: wait_until_healthy(
                    lambda: check_health(client, max_memory)
                ),
                should_stop=should_stop,
                on_start=on_start,
                on_batch=on_batch,
            )
            results.add(result)
            if result.processed and (
                results.earliest_reenriched_month is None
                or month < results.earliest_reenriched_month
            ):
                results.earliest_reenriched_month = month
            if result.stop_run:
                results.health_issues.append(
                    next(
                        (e["message"] for e in result.operational_errors),
                        "health check",
                    )
                )
    months = results.months()
    failed = [f"{r.event_type}-{r.month}" for r in months if r.status == FAILED]
    results.completed = all(r.status == COMPLETED for r in months) and not failed
    results.error = (
        f"Migration failed for months: {', '.join(failed)}" if failed else None
    )
    if results.completed and not options.months:
        store.put_run_summary(current, cutoff)
    return results


def _rewrite_month(
    client,
    store: BookmarkStore,
    enricher: EventEnricher,
    options,
    event_type: str,
    month: str,
    index: str,
    cutoff: str,
    current: str,
    *,
    health_check: Callable[[], Any],
    should_stop: Callable[[], bool],
    on_start: Callable[[MonthIndices, int, int], None] | None,
    on_batch: Callable[[MonthIndices, int], None] | None,
) -> MigrationResult:
    """Rewrite the stale events of one month's index."""
    started = utc_now()
    result = MigrationResult(
        month=month, event_type=event_type, source_index=index, target_index=index
    )
    bookmark = store.get(event_type, month, reenrich=True)
    if bookmark is None or bookmark.enrichment_fingerprint != current:
        bookmark = Bookmark(event_type, month, reenrich=True)
    bookmark.enrichment_fingerprint = current
    bookmark.cutoff = bookmark.cutoff or cutoff
    bookmark.source_index = bookmark.target_index = index
    client.indices.refresh(index=index)
    stale = count(client, index, stale_query(bookmark.cutoff))
    result.source_count = stale
    if stale == 0 and bookmark.completed:
        result.message = "already complete"
        return result.finish(COMPLETED, started)
    entry = MonthIndices(event_type, month)
    if on_start is not None:
        on_start(entry, stale + bookmark.processed_count, bookmark.processed_count)
    bookmark.phase, bookmark.completed = COPYING, False
    store.put(bookmark)
    rewriter = InPlaceRewriter(
        cutoff=bookmark.cutoff,
        client=client,
        enricher=enricher,
        store=store,
        batch_size=options.batch_size,
        max_batches=options.max_batches,
        health_check=health_check,
        should_stop=should_stop,
        on_batch=(lambda n: on_batch(entry, n)) if on_batch else (lambda n: None),
    )
    status = rewriter.rewrite(index, bookmark, result)
    result.migrated_total = bookmark.processed_count
    result.last_processed_id = bookmark.last_event_id
    if status != COMPLETED:
        return result.finish(status, started)
    client.indices.refresh(index=index)
    remaining = count(client, index, stale_query(bookmark.cutoff))
    if remaining:
        # Events written meanwhile with old timestamps: start a new pass next run.
        bookmark.last_event_id = bookmark.last_event_timestamp = None
        store.put(bookmark)
        result.message = f"{remaining} stale events remain: re-run to continue"
        result.capped = True
        return result.finish(INTERRUPTED, started)
    bookmark.completed, bookmark.phase, bookmark.last_error = (
        True,
        PHASE_COMPLETED,
        None,
    )
    store.put(bookmark)
    return result.finish(COMPLETED, started)
