"""``EventReindexingService``: migration and re-enrichment of usage events (03 §4–§5).

The CLI, the Celery task and other chapters' checks call these methods; the work
itself lives in :mod:`invenio_stats_dashboard.usage_events.migration`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import current_app
from invenio_search.proxies import current_search_client

from ..community_events.backfill import BackfillFilters, CommunityEventsBackfill
from ..community_events.log_reader import has_any_event
from ..community_events.marker import read_marker
from ..locks import task_lock
from ..proxies import current_community_stats
from ..search_indices.fast_json import fast_json
from ..search_indices.paging import count
from ..timeutils import utc_now
from ..usage_events.enricher import EventEnricher
from ..usage_events.event_mappings import ensure_event_templates
from ..usage_events.fields import configured_fields, fingerprint
from ..usage_events.migration.bookmarks import BookmarkStore
from ..usage_events.migration.health import check_health, wait_until_healthy
from ..usage_events.migration.month_run import (
    MonthMigration,
    MonthSettings,
    refuse_fresh_start,
)
from ..usage_events.migration.months import (
    Inventory,
    MonthIndices,
    is_pending,
    live_months,
    parse_months,
    take_inventory,
)
from ..usage_events.migration.results import (
    COMPLETED,
    SKIPPED,
    MigrationResult,
    ReindexingResults,
)
from ..usage_events.names import EVENT_TYPES

logger = logging.getLogger(__name__)

LOCK_SECTION = "usage_migration"
NO_LOG_ISSUE = "Community events index does not exist"
NO_LOG_ERROR = "Community events index does not exist - cannot proceed with reindexing"
TEMPLATE_ISSUE = "Template update failed"
TEMPLATE_ERROR = "Template update failed - cannot proceed with reindexing"
NOTHING_TO_MIGRATE = "no existing view or download events to migrate"


@dataclass
class RunOptions:
    """The options of one ``reindex_events`` call, defaults resolved from config."""

    event_types: tuple[str, ...]
    max_batches: int
    batch_size: int
    max_memory_percent: int
    delete_old_indices: bool
    fresh_start: bool
    months: list[str] | None
    reenrich: bool


@dataclass
class MonthPlan:
    """One row of ``--dry-run`` (and of the status listing)."""

    event_type: str
    month: str
    source: str
    target: str
    source_count: int
    migrated: int
    state: str
    batches_needed: int


class EventReindexingService:
    """Migrate historical view/download events into enriched monthly indices."""

    def __init__(self, client=None) -> None:
        """Use ``client`` or the app's search client."""
        self._client = client

    @property
    def client(self):
        """The search client in use."""
        return self._client or current_search_client

    # --------------------------------------------------------------- options

    def resolve_options(
        self,
        event_types: Iterable[str] | None = None,
        max_batches: int | None = None,
        delete_old_indices: bool = False,
        fresh_start: bool = False,
        month_filter: str | Iterable[str] | None = None,
        batch_size: int | None = None,
        max_memory_percent: int | None = None,
        reenrich: bool = False,
    ) -> RunOptions:
        """Check the options and fill the unset ones from config (ValueError if bad)."""
        config = current_app.config
        types = tuple(event_types or EVENT_TYPES)
        unknown = [t for t in types if t not in EVENT_TYPES]
        if unknown:
            raise ValueError(f"unknown event type {unknown[0]!r}: use view or download")
        batches = (
            config["STATS_DASHBOARD_REINDEXING_MAX_BATCHES"]
            if max_batches is None
            else max_batches
        )
        size = (
            config["STATS_DASHBOARD_REINDEXING_BATCH_SIZE"]
            if batch_size is None
            else batch_size
        )
        memory = (
            config["STATS_DASHBOARD_REINDEXING_MAX_MEMORY_PERCENT"]
            if max_memory_percent is None
            else max_memory_percent
        )
        if int(batches) < 0:
            raise ValueError(f"max batches must be 0 or more, got {batches}")
        if not 1 <= int(size) <= 10_000:
            raise ValueError(f"batch size must be between 1 and 10000, got {size}")
        if not 1 <= int(memory) <= 100:
            raise ValueError(f"max memory percent must be 1-100, got {memory}")
        return RunOptions(
            event_types=tuple(t for t in EVENT_TYPES if t in types),
            max_batches=int(batches),
            batch_size=int(size),
            max_memory_percent=int(memory),
            delete_old_indices=bool(delete_old_indices),
            fresh_start=bool(fresh_start),
            months=parse_months(month_filter),
            reenrich=bool(reenrich),
        )

    # ------------------------------------------------------------- inventory

    def inventory(self, event_types: Iterable[str] = tuple(EVENT_TYPES)) -> Inventory:
        """Every month of the event types with its indices and bookmark."""
        store = BookmarkStore(self.client)
        return take_inventory(self.client, tuple(event_types), store.by_month())

    def pending_months(
        self, inventory: Inventory, months: list[str] | None = None
    ) -> list[MonthIndices]:
        """Return the months that need migrating, oldest first (03 §4.4)."""
        pending = []
        for entry in inventory.ordered():
            if months is not None and entry.month not in months:
                continue
            source_count = None
            if entry.completed and entry.legacy_source:
                source_count = count(self.client, entry.source)
            if is_pending(entry, source_count):
                pending.append(entry)
        return pending

    def get_migration_state(self) -> dict[str, Any]:
        """``{state, pending_months, stale_enrichment}`` for other chapters (03 §4.12)."""
        from ..locks import lock_holder, lock_key, lock_settings
        from ..usage_events.indexing_state import redis_client

        settings = lock_settings(LOCK_SECTION, current_app.config)
        running = False
        if settings is not None:
            client = redis_client()
            try:
                prefix = current_app.config["STATS_CACHE_PREFIX"]
                running = lock_holder(client, lock_key(prefix, settings[0])) is not None
            finally:
                client.close()
        inventory = self.inventory()
        pending = self.pending_months(inventory)
        names = [f"{e.event_type}-{e.month}" for e in pending]
        current = fingerprint(configured_fields(current_app.config))
        stale = sorted(
            f"{e.event_type}-{e.month}"
            for e in inventory.ordered()
            if e.completed
            and e.bookmark is not None
            and e.bookmark.enrichment_fingerprint not in (None, current)
        )
        if running:
            state = "running"
        elif pending:
            state = "required"
        elif any(e.completed for e in inventory.ordered()):
            state = "complete"
        else:
            state = "not_needed"
        return {"state": state, "pending_months": names, "stale_enrichment": stale}

    # ----------------------------------------------------------------- plan

    def plan(self, options: RunOptions) -> list[MonthPlan]:
        """Return the dry-run plan: per type and month, counts, state, batches."""
        store = BookmarkStore(self.client)
        bookmarks = store.by_month() if store.exists() else {}
        inventory = take_inventory(self.client, options.event_types, bookmarks)
        rows = []
        for entry in self.pending_months(inventory, options.months):
            source_count = (
                count(self.client, entry.source) if entry.source_exists else 0
            )
            migrated = entry.bookmark.processed_count if entry.bookmark else 0
            remaining = max(source_count - migrated, 0)
            rows.append(
                MonthPlan(
                    event_type=entry.event_type,
                    month=entry.month,
                    source=entry.source,
                    target=entry.target,
                    source_count=source_count,
                    migrated=migrated,
                    state=month_state(entry),
                    batches_needed=-(-remaining // options.batch_size),
                )
            )
        return rows

    # ------------------------------------------------------------------ run

    def preconditions(self, options: RunOptions, results: ReindexingResults) -> bool:
        """Check 03 §4.3 items 2–4 in order; fill ``results`` when one fails."""
        client = self.client
        if not has_any_event(client):
            results.health_issues = [NO_LOG_ISSUE]
            results.error = NO_LOG_ERROR
            results.total_errors = 1
            results.refused = True
            return False
        if read_marker(client) is None:
            needing = CommunityEventsBackfill(client, BackfillFilters()).run(
                write=False
            )
            if needing.records_needing_events:
                results.refused = True
                results.error = (
                    f"community events backfill incomplete: "
                    f"{needing.records_needing_events} versions need events - run "
                    "`invenio community-stats community-events generate`"
                )
                return False
        try:
            current_community_stats.ensure_search_setup(force=True)
            ensure_event_templates(
                client,
                current_app.config.get("SEARCH_INDEX_PREFIX") or "",
                configured_fields(current_app.config),
            )
        except Exception as error:
            logger.error("putting the event templates failed: %s", error)
            results.health_issues = [TEMPLATE_ISSUE]
            results.error = TEMPLATE_ERROR
            results.refused = True
            return False
        health = wait_until_healthy(
            lambda: check_health(client, options.max_memory_percent)
        )
        if not health.is_healthy:
            results.health_issues = [health.reason]
            results.error = f"health check failed: {health.reason}"
            results.refused = True
            return False
        return True

    def reindex_events(
        self,
        event_types: Iterable[str] | None = None,
        max_batches: int | None = None,
        delete_old_indices: bool = False,
        fresh_start: bool = False,
        month_filter: str | Iterable[str] | None = None,
        batch_size: int | None = None,
        max_memory_percent: int | None = None,
        reenrich: bool = False,
        *,
        should_stop: Callable[[], bool] = lambda: False,
        on_start: Callable[[MonthIndices, int, int], None] | None = None,
        on_batch: Callable[[MonthIndices, int], None] | None = None,
    ) -> ReindexingResults:
        """Migrate (or re-enrich) the selected months under the migration lock.

        Raises ValueError for bad options and TaskLockAcquisitionError while another
        migration runs; every other problem is reported in the results.
        """
        options = self.resolve_options(
            event_types,
            max_batches,
            delete_old_indices,
            fresh_start,
            month_filter,
            batch_size,
            max_memory_percent,
            reenrich,
        )
        with task_lock(LOCK_SECTION), fast_json(self.client):
            if options.reenrich:
                from ..usage_events.migration.reenrich import run_reenrichment

                return run_reenrichment(
                    self,
                    options,
                    should_stop=should_stop,
                    on_start=on_start,
                    on_batch=on_batch,
                )
            return self.migrate(
                options, should_stop=should_stop, on_start=on_start, on_batch=on_batch
            )

    def migrate(
        self,
        options: RunOptions,
        *,
        should_stop: Callable[[], bool] = lambda: False,
        on_start: Callable[[MonthIndices, int, int], None] | None = None,
        on_batch: Callable[[MonthIndices, int], None] | None = None,
        results: ReindexingResults | None = None,
    ) -> ReindexingResults:
        """Run §4.3–§4.5 for the pending months (the lock is already held)."""
        results = results or ReindexingResults()
        if not self.preconditions(options, results):
            return results
        store = BookmarkStore(self.client)
        store.ensure()
        inventory = take_inventory(self.client, options.event_types, store.by_month())
        pending = self.pending_months(inventory, options.months)
        fields = configured_fields(current_app.config)
        results.fingerprint = fingerprint(fields)
        if options.fresh_start and options.months:
            # A finalised month named on the command line is refused, never redone.
            for entry in inventory.ordered():
                if entry.month in options.months and entry.finalised:
                    results.add(_refused_fresh_start(entry))
            pending = [e for e in pending if not e.finalised]
        if options.months:
            found = {e.month for e in pending} | {r.month for r in results.months()}
            missing = [m for m in options.months if m not in found]
            if missing:
                results.message = "; ".join(
                    f"nothing to migrate for {m}" for m in missing
                )
        if not pending and not results.months():
            results.completed = True
            results.message = results.message or NOTHING_TO_MIGRATE
            if options.delete_old_indices:
                self.delete_verified_old_indices(options, results)
                results.completed = not results.old_indices_kept
            if not options.months:
                store.put_run_summary(results.fingerprint)
            return results
        enricher = EventEnricher(self.client, fields)
        settings = MonthSettings(
            batch_size=options.batch_size,
            max_batches=options.max_batches,
            sample_size=current_app.config[
                "STATS_DASHBOARD_REINDEXING_MAX_SPOT_CHECK_SAMPLE_SIZE"
            ],
            pause_timeout=current_app.config[
                "STATS_DASHBOARD_REINDEXING_PAUSE_TIMEOUT"
            ],
            delete_old_indices=options.delete_old_indices,
            fresh_start=options.fresh_start,
            switch_allowed=enriched_indexer_configured(),
            live_months=live_months(),
        )
        runner = MonthMigration(
            self.client,
            store,
            enricher,
            settings,
            health_check=lambda: wait_until_healthy(
                lambda: check_health(self.client, options.max_memory_percent)
            ),
            should_stop=should_stop,
            on_batch=on_batch or (lambda entry, copied: None),
            on_start=on_start or (lambda entry, total, done: None),
        )
        stopped = False
        for entry in pending:
            if stopped:
                break
            result = runner.run(entry)
            results.add(result)
            if result.stop_run:
                reason = next(
                    (e["message"] for e in result.operational_errors), "health check"
                )
                results.health_issues.append(reason)
                stopped = True
            if should_stop():
                stopped = True
        return self._summarise(results, options, store)

    def delete_verified_old_indices(
        self, options: RunOptions, results: ReindexingResults
    ) -> None:
        """``--delete-old-indices`` for months completed in earlier runs (03 §4.2).

        Each old or backup index is re-verified at id level first, exactly as
        ``cleanup-old-indices`` does; a month that fails the check is reported.
        """
        from ..usage_events.migration.cleanup import (
            DELETED,
            VALIDATION_ERROR,
            VALIDATION_FAILED,
            cleanup_items,
            process_item,
        )

        done_now = {(r.event_type, r.month) for r in results.months()}
        for item in cleanup_items(self.client, options.event_types):
            if (item.event_type, item.month) in done_now:
                continue  # this run already handled its own months
            if options.months and item.month not in options.months:
                continue
            item = process_item(self.client, item, dry_run=False)
            if item.result is DELETED:
                results.old_indices_deleted.append(item.index)
            elif item.result in (VALIDATION_FAILED, VALIDATION_ERROR):
                results.total_errors += 1
                results.old_indices_kept.append(f"{item.index}: {item.reason}")

    def _summarise(
        self, results: ReindexingResults, options: RunOptions, store: BookmarkStore
    ) -> ReindexingResults:
        if options.delete_old_indices:
            self.delete_verified_old_indices(options, results)
        months = results.months()
        failed = [f"{r.event_type}-{r.month}" for r in months if r.status == "failed"]
        results.completed = (
            bool(months)
            and all(r.status in (COMPLETED, SKIPPED) for r in months)
            and not results.old_indices_kept
        )
        results.error = (
            f"Migration failed for months: {', '.join(failed)}" if failed else None
        )
        if results.old_indices_kept and not results.error:
            results.error = "old indices kept: " + "; ".join(results.old_indices_kept)
        if results.completed and not options.months:
            store.put_run_summary(results.fingerprint or "")
        return results

    def get_reindexing_progress(self) -> dict[str, Any]:
        """Return ``{counts, health}`` for status and the Celery task (03 §6)."""
        from ..usage_events.migration.progress import reindexing_progress

        return reindexing_progress(self)


def _refused_fresh_start(entry: MonthIndices) -> MigrationResult:
    """Return the result of a finalised month ``--fresh-start`` must not redo."""
    result = MigrationResult(
        month=entry.month,
        event_type=entry.event_type,
        source_index=entry.source,
        target_index=entry.target,
    )
    return refuse_fresh_start(entry, result, utc_now())


def month_state(entry: MonthIndices) -> str:
    """Return the state of a month for plans and status listings."""
    bookmark = entry.bookmark
    if bookmark is None:
        return "finalised (not recorded)" if entry.finalised else "not_started"
    if bookmark.completed:
        return "completed"
    if bookmark.phase == "failed":
        return "failed"
    if bookmark.phase == "switching":
        return "switching"
    return "in_progress"


def enriched_indexer_configured() -> bool:
    """Whether both event types use EnrichedEventsIndexer (03 §4.3 item 6)."""
    from invenio_base.utils import obj_or_import_string

    from ..search_indices.events_indexer import EnrichedEventsIndexer

    events = current_app.config.get("STATS_EVENTS") or {}
    for stats_type in EVENT_TYPES.values():
        cls = obj_or_import_string((events.get(stats_type) or {}).get("cls"))
        if not (isinstance(cls, type) and issubclass(cls, EnrichedEventsIndexer)):
            return False
    return True


__all__ = ("EventReindexingService", "MigrationResult", "ReindexingResults")
