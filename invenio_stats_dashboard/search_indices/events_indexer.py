"""``EnrichedEventsIndexer``: invenio-stats' events indexer plus enrichment (03 §3.3).

invenio-stats' ``process_events`` task builds a new indexer on every run with
upstream's constructor arguments and calls :meth:`run`. Upstream's ``actionsiter``
still consumes the queue, runs the preprocessors and builds index, ``_id`` and
timestamps; this class takes its actions 500 at a time, enriches them with the shared
enricher and writes each chunk before consuming the next, because a consumed
message has already left the queue.
"""

from __future__ import annotations

import logging
import time
from itertools import islice
from typing import Any

import redis
from flask import current_app
from invenio_stats.processors import EventsIndexer

from ..errors import TaskLockAcquisitionError
from ..proxies import EXTENSION_KEY
from ..usage_events import indexing_state
from ..usage_events.enricher import EventEnricher, strip_enrichment
from ..usage_events.event_mappings import IndexFieldGuard, ensure_event_templates
from ..usage_events.fields import configured_fields
from .bulk import bulk_write, item_result

logger = logging.getLogger(__name__)

CHUNK_SIZE = 500
ENRICHMENT_ATTEMPTS = 3
MAPPING_ERRORS = ("mapper_parsing_exception", "strict_dynamic_mapping_exception")


def _is_mapping_rejection(item: dict[str, Any]) -> bool:
    result = item_result(item)
    error = result.get("error") or {}
    return isinstance(error, dict) and error.get("type") in MAPPING_ERRORS


class EnrichedEventsIndexer(EventsIndexer):
    """Index view and download events with their enrichment fields."""

    def __init__(
        self,
        queue,
        prefix="events",
        suffix="%Y-%m",
        client=None,
        preprocessors=None,
        double_click_window=10,
    ):
        """Take upstream's arguments unchanged (03 §3.3)."""
        super().__init__(
            queue,
            prefix=prefix,
            suffix=suffix,
            client=client,
            preprocessors=preprocessors,
            double_click_window=double_click_window,
        )
        self.stats_type = queue.routing_key.removeprefix("stats-")
        self.fields = configured_fields(current_app.config)
        self.enricher = EventEnricher(
            self.client, self.fields, fallback_to_current_communities=True
        )
        self._templates_ready = False

    # -------------------------------------------------------------------- run

    def run(self) -> tuple[int, int]:
        """Index what is queued; return ``(indexed, errors)`` like upstream."""
        state = indexing_state.redis_client()
        try:
            if indexing_state.is_paused(state):
                logger.info("usage-event indexing is paused by a migration")
                return 0, 0
            lock = indexing_state.indexing_lock(state)
            try:
                lock.acquire()
            except TaskLockAcquisitionError:
                logger.info("another events indexer is running; events stay queued")
                return 0, 0
            try:
                if indexing_state.is_paused(state):
                    # The pause was set between the check and the lock: honour it.
                    logger.info("usage-event indexing is paused by a migration")
                    return 0, 0
                indexing_state.record_fingerprint(state, self.enricher.fingerprint)
                return self._index_queue(state)
            finally:
                lock.release()
        finally:
            state.close()

    def _index_queue(self, state: redis.Redis) -> tuple[int, int]:
        indexed = errors = 0
        actions = self.actionsiter()
        try:
            while True:
                chunk = list(islice(actions, CHUNK_SIZE))
                if not chunk:
                    break
                written, failed = self._write_chunk(chunk)
                indexed += written
                errors += failed
                if len(chunk) < CHUNK_SIZE or indexing_state.is_paused(state):
                    # A pause asked meanwhile: stop consuming, the rest stays queued.
                    break
        finally:
            # Give the queue consumer (and its broker connection) back at once.
            actions.close()
        return indexed, errors

    # ---------------------------------------------------------------- writing

    def _prepare_indices(self, chunk: list[dict[str, Any]]) -> None:
        if not self._templates_ready:
            ext = current_app.extensions.get(EXTENSION_KEY)
            if ext is not None:
                ext.ensure_search_setup()
            ensure_event_templates(
                self.client,
                current_app.config.get("SEARCH_INDEX_PREFIX") or "",
                self.fields,
            )
            self._templates_ready = True
        for index in sorted({action["_index"] for action in chunk}):
            IndexFieldGuard.ensure(
                self.client,
                index,
                self.stats_type,
                self.fields,
                self.enricher.fingerprint,
            )

    def _enrich(self, chunk: list[dict[str, Any]]) -> bool:
        sources = [action["_source"] for action in chunk]
        for attempt in range(1, ENRICHMENT_ATTEMPTS + 1):
            try:
                self.enricher.enrich_sources(sources)
                return True
            except Exception as error:
                logger.warning(
                    "enriching %d events failed (attempt %d): %s",
                    len(chunk),
                    attempt,
                    error,
                )
                time.sleep(0.2 * attempt)
        # Monthly index names end in ``YYYY-MM`` (upstream suffix ``%Y-%m``).
        months = sorted({action["_index"][-7:] for action in chunk})
        logger.error(
            "indexing %d %s events WITHOUT enrichment: the enrichment searches failed "
            "%d times. Fix: invenio community-stats usage-events migrate --reenrich "
            "--months %s",
            len(chunk),
            self.stats_type,
            ENRICHMENT_ATTEMPTS,
            " --months ".join(months),
        )
        for source in sources:
            strip_enrichment(source, self.fields)
        return False

    def _write_chunk(self, chunk: list[dict[str, Any]]) -> tuple[int, int]:
        try:
            self._prepare_indices(chunk)
        except Exception as error:  # writing comes first; the retry covers mappings
            logger.warning("preparing event indices failed: %s", error)
        self._enrich(chunk)
        failed: list[dict[str, Any]] = []
        try:
            written = bulk_write(self.client, chunk, failed_items=failed)
        except Exception as error:
            # The chunk has left the queue: say how many events are lost, then stop
            # consuming (the rest stays queued for the next run).
            logger.error(
                "%d %s events could not be indexed (%s); months: %s",
                len(chunk),
                self.stats_type,
                error,
                ", ".join(sorted({action["_index"][-7:] for action in chunk})),
            )
            raise
        if not failed:
            return written, 0
        by_id = {action["_id"]: action for action in chunk}
        retry, other = [], []
        for item in failed:
            result = item_result(item)
            action = by_id.get(result.get("_id"))
            if action is not None and _is_mapping_rejection(item):
                strip_enrichment(action["_source"], self.fields)
                retry.append(action)
            else:
                other.append(item)
        retry_failed: list[dict[str, Any]] = []
        if retry:
            # The index may have been replaced since it was checked: check it again
            # before the next write into it.
            for index in {action["_index"] for action in retry}:
                IndexFieldGuard.discard(index)
            written += bulk_write(self.client, retry, failed_items=retry_failed)
            logger.warning(
                "%d %s events were rejected by their index mapping and indexed "
                "without enrichment",
                len(retry) - len(retry_failed),
                self.stats_type,
            )
        lost = other + retry_failed
        if lost:
            logger.error(
                "%d %s events could not be indexed; first error: %s",
                len(lost),
                self.stats_type,
                lost[0],
            )
        return written, len(lost)
