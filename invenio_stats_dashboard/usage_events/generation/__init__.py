"""Synthetic view and download events for demos, tests and benchmarks (03 §6).

Generated events go through the same steps as live ones, so nothing downstream can
tell them apart: the raw event has the shape InvenioRDM's event builders give it
(a browser user agent, so ``filter_robots`` keeps it), the configured preprocessors
of ``STATS_EVENTS`` run on it, and invenio-stats' own ``EventsIndexer.actionsiter``
builds the index name, ``_id`` and timestamps. Enrichment, when asked for, uses the
shared :class:`~.enricher.EventEnricher`.

The package has three layers, one module each (plus the reading of records):

- :mod:`.planning`, pure planning: event windows, the month split, timestamps,
  visitors and raw events (unit-testable, no I/O);
- :mod:`.routing`, index routing: which index each (event type, month) goes to, and
  the refusal to put unenriched events into an enriched month (read-only, then the
  creation of the missing indices);
- :mod:`.writer`, writing: the records are read page by page (:mod:`.records`) and
  events are built, preprocessed, enriched and bulk-written one chunk at a time, so
  memory stays bounded whatever the number of events.

``--seed`` makes every random choice reproducible. The anonymisation salt of each
day is invenio-stats' own (random, cached for 24 h) and enters ``visitor_id`` and so
the ``_id``; to make ids reproducible too, the generator pins the salt of every day
before yesterday (UTC) to a value derived from the seed. No live event can use those
salts any more: live events are timestamped "now", and invenio-stats keeps a salt for
24 hours only. Events of yesterday and today use the live salt, so their ids repeat
only while that salt lives.
"""

from .planning import (
    BROWSER_USER_AGENT,
    CHUNK_SIZE,
    DOWNLOAD,
    VIEW,
    FileInfo,
    GenerationOptions,
    MonthSpan,
    SourceRecord,
    draw_seed,
    event_window,
    month_spans,
    pinnable_day,
    plan_record,
    random_timestamp,
    record_events,
    seeded_salt,
    split_evenly,
)
from .records import RunPlan, plan_run
from .routing import (
    GenerationRefused,
    IndexState,
    Route,
    choose_route,
    new_index_body,
    resolve_routes,
)
from .writer import EventGenerator, GenerationResult, writing_generator

__all__ = [
    "BROWSER_USER_AGENT",
    "CHUNK_SIZE",
    "DOWNLOAD",
    "VIEW",
    "EventGenerator",
    "FileInfo",
    "GenerationOptions",
    "GenerationRefused",
    "GenerationResult",
    "IndexState",
    "MonthSpan",
    "Route",
    "RunPlan",
    "SourceRecord",
    "choose_route",
    "draw_seed",
    "event_window",
    "month_spans",
    "new_index_body",
    "pinnable_day",
    "plan_record",
    "plan_run",
    "random_timestamp",
    "record_events",
    "resolve_routes",
    "seeded_salt",
    "split_evenly",
    "writing_generator",
]
