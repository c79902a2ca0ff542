"""Writing generated events chunk by chunk through invenio-stats' own indexer."""

from __future__ import annotations

import inspect
import random
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from invenio_stats.processors import EventsIndexer

from ...search_indices.bulk import bulk_write, item_result
from ..fields import EnrichedField
from .planning import (
    CHUNK_SIZE,
    SALT_KEY,
    SALT_TIMEOUT,
    STATS_TYPES,
    FileInfo,
    GenerationOptions,
    chunked,
    pinnable_day,
    plan_record,
    record_events,
    seeded_salt,
)
from .records import RunPlan, database_files, iter_record_pages, with_files
from .routing import Route, prepare_routes

# ---------------------------------------------------------------------- writing


class ListQueue:
    """Stands in for the invenio-queues queue, so upstream ``actionsiter`` runs as is."""

    def __init__(self, routing_key: str) -> None:
        self.routing_key = routing_key
        self.messages: list[dict[str, Any]] = []

    def consume(self) -> Iterator[dict[str, Any]]:
        """Yield and forget the messages put in."""
        messages, self.messages = self.messages, []
        yield from messages


def configured_indexer(stats_type: str, client) -> EventsIndexer:
    """invenio-stats' ``EventsIndexer`` with the instance's params for ``stats_type``.

    The preprocessors, double-click window, prefix and suffix are those of
    ``STATS_EVENTS`` (objects or import strings), so ids and index names are exactly
    those of live events. The configured class is not used: its ``run`` would
    consume the real queue.
    """
    from invenio_stats.proxies import current_stats

    event = current_stats.events[stats_type]
    accepted = inspect.signature(EventsIndexer.__init__).parameters
    params = {
        key: value
        for key, value in event.params.items()
        if key in accepted and key not in ("self", "queue", "client")
    }
    queue = ListQueue(getattr(event.queue, "routing_key", f"stats-{stats_type}"))
    return EventsIndexer(queue=queue, client=client, **params)


def index_actions(
    indexer: EventsIndexer, events: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Run the preprocessors and build the bulk actions, as the live indexer does."""
    indexer.queue.messages = events
    return list(indexer.actionsiter())


@dataclass
class GenerationResult:
    """Counts of a run so far (also after an interruption)."""

    indexed: int = 0
    errors: int = 0
    built: Counter = field(default_factory=Counter)
    """Events built per stats type."""
    written_indices: set[str] = field(default_factory=set)
    error_samples: list[str] = field(default_factory=list)

    def add_errors(self, count: int, reason: str) -> None:
        """Count failed events and keep a few reasons."""
        self.errors += count
        if count and len(self.error_samples) < 10:
            self.error_samples.append(reason)


class EventGenerator:
    """Build and write the planned events one chunk at a time (second pass)."""

    def __init__(
        self,
        client,
        options: GenerationOptions,
        plan: RunPlan,
        now: datetime,
        *,
        routes: Mapping[tuple[str, str], Route] | None = None,
        enricher=None,
        read_files: Callable[
            [Sequence[str]], Mapping[str, tuple[FileInfo, ...]]
        ] = database_files,
        pin_salt: Callable[[date, str], None] | None = None,
    ) -> None:
        """``routes`` None means a dry run: events are built and counted only."""
        self.client = client
        self.options = options
        self.plan = plan
        self.now = now
        self.routes = routes
        self.enricher = enricher
        self.read_files = read_files
        self.pin_salt = pin_salt
        self.result = GenerationResult()
        self._pinned: set[date] = set()
        self._indexers = (
            {t: configured_indexer(t, client) for t in STATS_TYPES}
            if routes is not None
            else {}
        )

    @property
    def dry_run(self) -> bool:
        """Whether nothing is written."""
        return self.routes is None

    def events(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every raw event, record by record, drawn from the seeded generator."""
        rng = random.Random(self.options.seed)
        for page in iter_record_pages(self.client, self.options, self.plan.records):
            for record in with_files(page, self.read_files):
                months = plan_record(record.created, self.options, self.now)
                yield from record_events(record, months, rng)

    def run(
        self,
        on_chunk: Callable[[int, GenerationResult], None] | None = None,
        checkpoint: Callable[[], None] | None = None,
    ) -> GenerationResult:
        """Write (or, dry, count) every event; refresh the written indices once."""
        try:
            for chunk in chunked(self.events(), CHUNK_SIZE):
                if checkpoint is not None:
                    checkpoint()
                self.result.built.update(stats_type for stats_type, _ in chunk)
                if not self.dry_run:
                    self._write(chunk)
                if on_chunk is not None:
                    on_chunk(len(chunk), self.result)
        finally:
            self.refresh()
        return self.result

    def refresh(self) -> None:
        """Refresh every index written to, in one request."""
        if self.result.written_indices:
            self.client.indices.refresh(
                index=",".join(sorted(self.result.written_indices)),
                ignore_unavailable=True,
            )

    def _pin_salts(self, chunk: list[tuple[str, dict[str, Any]]]) -> None:
        if self.pin_salt is None:
            return
        for _, event in chunk:
            day = date.fromisoformat(event["timestamp"][:10])
            if day not in self._pinned and pinnable_day(day, self.now):
                self.pin_salt(day, seeded_salt(self.options.seed, day))
                self._pinned.add(day)

    def _actions(self, chunk: list[tuple[str, dict[str, Any]]]) -> list[dict]:
        """Preprocess and route one chunk; count events a preprocessor dropped."""
        assert self.routes is not None
        actions = []
        for stats_type in STATS_TYPES:
            events = [event for t, event in chunk if t == stats_type]
            if not events:
                continue
            built = index_actions(self._indexers[stats_type], events)
            self.result.add_errors(
                len(events) - len(built),
                f"{len(events) - len(built)} {stats_type} event(s) dropped by the "
                "configured preprocessors",
            )
            for action in built:
                month = action["_source"]["timestamp"][:7]
                action["_index"] = self.routes[(stats_type, month)].index
                actions.append(action)
        return actions

    def _write(self, chunk: list[tuple[str, dict[str, Any]]]) -> None:
        self._pin_salts(chunk)
        actions = self._actions(chunk)
        if self.enricher is not None and actions:
            self.enricher.enrich_sources([action["_source"] for action in actions])
        failed: list[dict[str, Any]] = []
        written = bulk_write(
            self.client, actions, chunk_size=CHUNK_SIZE, failed_items=failed
        )
        self.result.indexed += written
        self.result.written_indices.update(action["_index"] for action in actions)
        for item in failed:
            outcome = item_result(item)
            self.result.add_errors(
                1,
                f"{outcome.get('_index')} {outcome.get('_id')}: {outcome.get('error')}",
            )


def pin_cached_salt(day: date, salt: str) -> None:
    """Store ``salt`` as invenio-stats' anonymisation salt of ``day``."""
    from invenio_cache import current_cache

    current_cache.set(SALT_KEY.format(day.isoformat()), salt, timeout=SALT_TIMEOUT)


def writing_generator(
    client,
    options: GenerationOptions,
    plan: RunPlan,
    routes: Mapping[tuple[str, str], Route],
    now: datetime,
    *,
    prefix: str,
    fields: Sequence[EnrichedField],
) -> EventGenerator:
    """Create the missing indices and return a generator ready to write.

    ``fields`` are the configured enrichment fields; they are used only when the
    options ask for enrichment.
    """
    from ..enricher import EventEnricher

    enriching = options.enriches
    prepare_routes(client, routes, prefix, fields if enriching else None)
    enricher = (
        EventEnricher(client, fields, fallback_to_current_communities=True)
        if enriching
        else None
    )
    return EventGenerator(
        client,
        options,
        plan,
        now,
        routes=routes,
        enricher=enricher,
        pin_salt=pin_cached_salt,
    )
