"""The per-month migration sequence (03 §4.5, §4.6, §4.9, §4.10).

A month is finalised only after its verification passed; every step that changes
what the read alias shows is one ``_aliases`` request. :func:`checkpoint` marks the
points of the guarantees table (03 §4.12) so fault-injection tests can stop the
process exactly there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app

from ...search_indices.paging import count
from ...timeutils import utc_now
from ..enricher import EventEnricher
from ..event_mappings import copy_missing_properties
from ..indexing_state import PAUSE_KEY, IndexingPause, redis_client, state_key
from . import copier as copy_states
from . import switch
from .bookmarks import COMPLETED as PHASE_COMPLETED
from .bookmarks import COPYING, SWITCHING, Bookmark, BookmarkStore
from .copier import BatchCopier, ReadFailedError, WindowCopier
from .health import HealthCheckResult
from .months import MonthIndices
from .results import COMPLETED, FAILED, INTERRUPTED, MigrationResult
from .verification import copy_missing, missing_ids, validate_month

logger = logging.getLogger(__name__)


def checkpoint(name: str) -> None:
    """Mark a point of the guarantees table; a no-op outside fault-injection tests."""


@dataclass
class MonthSettings:
    """Options of one run that every month shares."""

    batch_size: int
    max_batches: int
    sample_size: int
    pause_timeout: int
    delete_old_indices: bool = False
    fresh_start: bool = False
    switch_allowed: bool = True
    live_months: set[str] = field(default_factory=set)


class MonthMigration:
    """Migrate one event type and month, from wherever its bookmark left it."""

    def __init__(
        self,
        client,
        store: BookmarkStore,
        enricher: EventEnricher,
        settings: MonthSettings,
        *,
        health_check: Callable[[], HealthCheckResult],
        should_stop: Callable[[], bool] = lambda: False,
        on_batch: Callable[[MonthIndices, int], None] = lambda entry, copied: None,
        on_start: Callable[[MonthIndices, int, int], None] = lambda e, t, d: None,
    ) -> None:
        self.client = client
        self.store = store
        self.enricher = enricher
        self.settings = settings
        self.health_check = health_check
        self.should_stop = should_stop
        self.on_batch = on_batch
        self.on_start = on_start
        self._stale_pause_checked = False

    # ------------------------------------------------------------------ entry

    def run(self, entry: MonthIndices) -> MigrationResult:
        """Run the sequence; an unexpected error fails the month at its step."""
        started = utc_now()
        result = MigrationResult(
            month=entry.month,
            event_type=entry.event_type,
            source_index=entry.source,
            target_index=entry.target,
        )
        try:
            self._clear_stale_pause()
            return self._run(entry, result, started)
        except ReadFailedError as error:
            result.error("read_failed", str(error))
            result.stop_run = True
            return result.finish(INTERRUPTED, started)
        except Exception as error:
            logger.exception("migrating %s %s failed", entry.event_type, entry.month)
            result.error("unexpected_error", f"{type(error).__name__}: {error}")
            return result.finish(FAILED, started)

    def _clear_stale_pause(self) -> None:
        """Remove a pause flag left by a killed run, once per run.

        The caller holds the migration lock, so no other switch can be in progress:
        a flag present now belongs to a run that died after setting it (e.g. after
        its swap). It would otherwise hold live indexing back for its whole TTL.
        """
        if self._stale_pause_checked:
            return
        self._stale_pause_checked = True
        state = redis_client()
        try:
            if state.delete(state_key(current_app.config, PAUSE_KEY)):
                logger.warning("removed an indexing pause left by a stopped migration")
        finally:
            state.close()

    def _run(
        self, entry: MonthIndices, result: MigrationResult, started: datetime
    ) -> MigrationResult:
        bookmark = entry.bookmark
        if self.settings.fresh_start:
            if entry.finalised:
                return refuse_fresh_start(entry, result, started)
            if bookmark is not None:
                self.store.delete(bookmark)
            switch.delete_target(self.client, entry)
            bookmark = entry.bookmark = None
        if bookmark is not None and bookmark.phase == SWITCHING:
            if not (entry.source_exists and not entry.switched):
                return self._recover(entry, bookmark, result, started)
            # Stopped after ``phase=switching`` was written but before the swap: the
            # old index is still a concrete index that may hold newer events, so the
            # switch is repeated (backup, pause, deltas, swap), never just recovered.
            bookmark.phase = COPYING
        if entry.finalised:
            return self._record_finalised(entry, bookmark, result, started)
        if not entry.source_exists:
            result.error("missing_source", f"{entry.source} does not exist")
            return result.finish(FAILED, started)
        if bookmark is None:
            bookmark = Bookmark(entry.event_type, entry.month)
        bookmark.source_index, bookmark.target_index = entry.source, entry.target
        bookmark.enrichment_fingerprint = self.enricher.fingerprint
        bookmark.phase, bookmark.completed = COPYING, False
        switch.create_target(self.client, entry)
        entry.target_exists = True
        copy_missing_properties(self.client, entry.source, entry.target)
        self.store.put(bookmark)
        entry.bookmark = bookmark
        return self._copy_and_finalise(entry, bookmark, result, started)

    # ------------------------------------------------------------------- copy

    def _copier(self, entry: MonthIndices) -> BatchCopier:
        """Copy by windows unless a custom extractor may read any event field."""
        keyed = self.enricher.event_fields_read() is not None
        copier = WindowCopier if keyed else BatchCopier
        return copier(
            client=self.client,
            enricher=self.enricher,
            store=self.store,
            batch_size=self.settings.batch_size,
            max_batches=self.settings.max_batches,
            health_check=self.health_check,
            should_stop=self.should_stop,
            on_batch=lambda copied: self.on_batch(entry, copied),
            before_bookmark=lambda bookmark: checkpoint("before_bookmark"),
        )

    def _copy_and_finalise(
        self,
        entry: MonthIndices,
        bookmark: Bookmark,
        result: MigrationResult,
        started: datetime,
    ) -> MigrationResult:
        source_count = count(self.client, entry.source)
        result.source_count = source_count
        self.on_start(entry, source_count, bookmark.processed_count)
        outcome = self._copier(entry).copy(bookmark, entry.source, entry.target)
        result.processed = outcome.copied
        result.batches_attempted = outcome.batches_attempted
        result.batches_succeeded = outcome.batches_succeeded
        result.migrated_total = bookmark.processed_count
        result.last_processed_id = bookmark.last_event_id
        if outcome.status == copy_states.CAPPED:
            result.capped = True
            result.message = "incomplete: re-run to continue"
            return result.finish(INTERRUPTED, started)
        if outcome.status == copy_states.STOPPED:
            result.message = "stopped by a signal"
            return result.finish(INTERRUPTED, started)
        if outcome.status == copy_states.UNHEALTHY:
            assert outcome.health is not None  # noqa: S101 - set with the status
            result.error("health_check", outcome.health.reason)
            result.stop_run = True
            return result.finish(INTERRUPTED, started)
        if outcome.status == copy_states.FAILED:
            result.error("bulk_failed", outcome.error or "bulk items failed")
            result.validation_errors = [
                f"{f['id']}: {f['reason']}" for f in outcome.failures
            ]
            bookmark.reset(outcome.error)
            self.store.put(bookmark)
            return result.finish(FAILED, started)
        checkpoint("after_copy")
        # Writes into the old index during the copy are only counted (and found by
        # the delta pass) once refreshed.
        self.client.indices.refresh(index=entry.source)
        self.client.indices.refresh(index=entry.target)
        source_count = count(self.client, entry.source)
        if source_count != bookmark.processed_count:
            topped_up = copy_missing(
                self.client, entry.source, entry.target, enricher=self.enricher
            )
            bookmark.processed_count += topped_up
            result.processed += topped_up
            self.client.indices.refresh(index=entry.target)
        bookmark.source_count = source_count
        result.source_count = source_count
        result.migrated_total = bookmark.processed_count
        if entry.month in self.settings.live_months:
            return self._switch(entry, bookmark, result, started)
        validation = validate_month(
            self.client,
            source=entry.source,
            target=entry.target,
            expected=source_count,
            enricher=self.enricher,
            sample_size=self.settings.sample_size,
        )
        if not validation.success:
            return self._validation_failed(bookmark, result, validation.errors, started)
        checkpoint("before_alias_move")
        switch.move_read_alias(self.client, entry)
        checkpoint("after_alias_move")
        if self.settings.delete_old_indices:
            result.deleted_old_index = switch.delete_index(self.client, entry.source)
        return self._complete(bookmark, result, started)

    def _validation_failed(
        self,
        bookmark: Bookmark,
        result: MigrationResult,
        errors: list[str],
        started: datetime,
        reset: bool = True,
    ) -> MigrationResult:
        result.validation_errors = list(errors)
        result.error("validation_failed", "; ".join(errors[:3]))
        if reset:
            bookmark.reset(f"validation failed: {'; '.join(errors[:3])}")
        else:
            bookmark.last_error = f"validation failed: {'; '.join(errors[:3])}"
        self.store.put(bookmark)
        return result.finish(FAILED, started)

    def _complete(
        self, bookmark: Bookmark, result: MigrationResult, started: datetime
    ) -> MigrationResult:
        bookmark.completed, bookmark.phase, bookmark.last_error = (
            True,
            PHASE_COMPLETED,
            None,
        )
        bookmark.enrichment_fingerprint = self.enricher.fingerprint
        self.store.put(bookmark)
        result.migrated_total = bookmark.processed_count
        return result.finish(COMPLETED, started)

    # -------------------------------------------------------- finalised months

    def _record_finalised(
        self,
        entry: MonthIndices,
        bookmark: Bookmark | None,
        result: MigrationResult,
        started: datetime,
    ) -> MigrationResult:
        """Verify a month finalised earlier and record it; top up late writes."""
        sources = [
            name
            for name, exists in (
                (entry.source, entry.source_exists and not entry.switched),
                (entry.backup, entry.backup_exists),
            )
            if exists
        ]
        copied = 0
        for source in sources:
            copied += copy_missing(
                self.client, source, entry.target, enricher=self.enricher
            )
        self.client.indices.refresh(index=entry.target)
        bookmark = bookmark or Bookmark(entry.event_type, entry.month)
        bookmark.source_index, bookmark.target_index = entry.source, entry.target
        source_count = (
            count(self.client, sources[0])
            if sources
            else count(self.client, entry.target)
        )
        bookmark.source_count = source_count
        bookmark.processed_count = max(bookmark.processed_count, source_count)
        result.processed = copied
        result.source_count = source_count
        result.message = "already complete" if not copied else "topped up late events"
        if self.settings.delete_old_indices and sources:
            # Finalised by a run stopped before its delete (03 §4.12): delete the
            # old index (or backup) only once every one of its ids is in the target.
            lacking = {
                source: sum(
                    len(ids) for ids in missing_ids(self.client, source, entry.target)
                )
                for source in sources
            }
            if any(lacking.values()):
                errors = [
                    f"{n} events of {source} are missing in {entry.target}"
                    for source, n in lacking.items()
                    if n
                ]
                return self._validation_failed(
                    bookmark, result, errors, started, reset=False
                )
            for source in sources:
                result.deleted_old_index |= switch.delete_index(self.client, source)
        return self._complete(bookmark, result, started)

    # ---------------------------------------------------------------- switch

    def _switch(
        self,
        entry: MonthIndices,
        bookmark: Bookmark,
        result: MigrationResult,
        started: datetime,
    ) -> MigrationResult:
        """Switch a month that still receives writes (03 §4.6)."""
        if not self.settings.switch_allowed:
            result.error(
                "switch_refused",
                "the configured events indexer is not EnrichedEventsIndexer, so the "
                "indexing pause would not be honoured",
            )
            return result.finish(INTERRUPTED, started)
        try:
            checkpoint("before_backup")
            switch.build_backup(self.client, entry)
            checkpoint("after_backup")
        except Exception as error:
            result.error("backup_failed", str(error))
            return result.finish(INTERRUPTED, started)
        health = self.health_check()
        if not health.is_healthy:
            result.error("health_check", health.reason)
            result.stop_run = True
            return result.finish(INTERRUPTED, started)
        state = redis_client()
        pause = IndexingPause(state, self.settings.pause_timeout)
        heartbeat = PauseHeartbeat(pause)
        try:
            pause.set()
            heartbeat.start()
            checkpoint("paused")
            if not pause.wait_for_indexer():
                result.error("pause_failed", "the events indexer did not stop in time")
                return result.finish(INTERRUPTED, started)
            # The last writes of the indexer run that just ended are invisible to
            # the id searches and the count until the old index is refreshed; the
            # swap deletes the old index, so they would be lost.
            self.client.indices.refresh(index=entry.source)
            # The live indexer may have mapped new (enrichment) fields on the old
            # index after the backup copied its mapping: strict mappings would
            # reject those events in the deltas.
            copy_missing_properties(self.client, entry.source, entry.target)
            copy_missing_properties(self.client, entry.source, entry.backup)
            added = copy_missing(
                self.client, entry.source, entry.target, enricher=self.enricher
            )
            copy_missing(self.client, entry.source, entry.backup, enricher=None)
            bookmark.processed_count += added
            result.processed += added
            old_count = count(self.client, entry.source)
            bookmark.source_count = old_count
            bookmark.phase = SWITCHING
            self.store.put(bookmark)
            # The read alias moves onto the target: everything copied must be
            # visible there at once, or events would briefly disappear.
            self.client.indices.refresh(index=f"{entry.target},{entry.backup}")
            checkpoint("before_swap")
            self.client.indices.refresh(index=entry.source)
            if (
                heartbeat.lost
                or not pause.renew()
                or count(self.client, entry.source) != old_count
            ):
                result.error(
                    "pause_failed", "the pause expired or the old index changed"
                )
                bookmark.phase = COPYING
                self.store.put(bookmark)
                return result.finish(INTERRUPTED, started)
            switch.swap_month_name(self.client, entry)
            checkpoint("after_swap")
        finally:
            heartbeat.stop()
            pause.release()
            state.close()
            # Events held back by the pause flow on now, also after an interruption.
            _resume_live_indexing()
        return self._recover(entry, bookmark, result, started)

    def _recover(
        self,
        entry: MonthIndices,
        bookmark: Bookmark,
        result: MigrationResult,
        started: datetime,
    ) -> MigrationResult:
        """Make sure every backup id is in the target, verify, finish (03 §4.6 7–8)."""
        if not entry.backup_exists and not self.client.indices.exists(
            index=entry.backup
        ):
            result.error("missing_backup", f"{entry.backup} does not exist")
            return result.finish(FAILED, started)
        self.client.indices.refresh(index=entry.target)
        restored = copy_missing(
            self.client, entry.backup, entry.target, enricher=self.enricher
        )
        result.processed += restored
        self.client.indices.refresh(index=entry.target)
        checkpoint("after_recovery")
        validation = validate_month(
            self.client,
            source=entry.backup,
            target=entry.target,
            expected=bookmark.source_count or 0,
            enricher=self.enricher,
            sample_size=self.settings.sample_size,
        )
        result.source_count = bookmark.source_count
        if not validation.success:
            return self._validation_failed(
                bookmark, result, validation.errors, started, reset=False
            )
        if self.settings.delete_old_indices:
            result.deleted_old_index = switch.delete_index(self.client, entry.backup)
        return self._complete(bookmark, result, started)


class PauseHeartbeat:
    """Renew the pause flag every third of its TTL while the switch works (03 §4.6).

    A killed migration stops renewing, so the flag expires after its TTL. ``lost``
    becomes True when a renewal finds the flag expired or replaced.
    """

    def __init__(self, pause: IndexingPause) -> None:
        self.pause = pause
        self.lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start renewing in a daemon thread."""
        self._thread = threading.Thread(
            target=self._run, name="usage-migration-pause", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        interval = max(self.pause.timeout / 3, 0.1)
        while not self._stop.wait(interval):
            try:
                if not self.pause.renew():
                    self.lost = True
                    return
            except Exception as error:  # a Redis hiccup: the next renewal retries
                logger.warning("renewing the indexing pause failed: %s", error)

    def stop(self) -> None:
        """Stop renewing (before the flag is released)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def _resume_live_indexing() -> None:
    """Queue invenio-stats' indexing, so events held back by the pause flow on."""
    try:
        from invenio_stats.tasks import process_events

        process_events.delay(["record-view", "file-download"])
    except Exception as error:  # the beat schedule runs it again anyway
        logger.warning("could not queue process_events after the switch: %s", error)


def refuse_fresh_start(
    entry: MonthIndices, result: MigrationResult, started: datetime
) -> MigrationResult:
    """Fail a finalised month that ``--fresh-start`` must not copy again."""
    result.error(
        "refused",
        f"{entry.event_type} {entry.month} is finalised: use "
        "`usage-events migrate --reenrich` to rewrite its events",
    )
    return result.finish(FAILED, started)
