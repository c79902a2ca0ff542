"""Synthetic view and download events for demos, tests and benchmarks (03 §6).

Generated events go through the same steps as live ones, so nothing downstream can
tell them apart: the raw event has the shape InvenioRDM's event builders give it
(a browser user agent, so ``filter_robots`` keeps it), the configured preprocessors
of ``STATS_EVENTS`` run on it, and invenio-stats' own ``EventsIndexer.actionsiter``
builds the index name, ``_id`` and timestamps. Enrichment, when asked for, uses the
shared :class:`~.enricher.EventEnricher`.

The module has three layers:

- pure planning: event windows, the month split, timestamps, visitors and raw events
  (unit-testable, no I/O);
- index routing: which index each (event type, month) goes to, and the refusal to
  put unenriched events into an enriched month (read-only, then the creation of the
  missing indices);
- writing: the records are read page by page and events are built, preprocessed,
  enriched and bulk-written one chunk at a time, so memory stays bounded whatever
  the number of events.

``--seed`` makes every random choice reproducible. The anonymisation salt of each
day is invenio-stats' own (random, cached for 24 h) and enters ``visitor_id`` and so
the ``_id``; to make ids reproducible too, the generator pins the salt of every day
before yesterday (UTC) to a value derived from the seed. No live event can use those
salts any more: live events are timestamped "now", and invenio-stats keeps a salt for
24 hours only. Events of yesterday and today use the live salt, so their ids repeat
only while that salt lives.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import inspect
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from typing import Any

from invenio_search.utils import prefix_index
from invenio_stats.processors import EventsIndexer

from ..search_indices.bulk import bulk_write, item_result
from ..search_indices.paging import RECORDS_ALIAS, search_after_pages
from ..search_indices.templates import template_body
from ..timeutils import end_of_day, parse_utc, start_of_day
from .event_mappings import (
    ENRICHED_MARKER,
    EVENT_TEMPLATE_FILES,
    add_missing_properties,
    enrichment_properties,
    index_meta,
    is_enriched_mapping,
)
from .fields import EnrichedField
from .names import CLI_TYPES, month_index, target_index

VIEW = "record-view"
DOWNLOAD = "file-download"
STATS_TYPES = (VIEW, DOWNLOAD)

BROWSER_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
"""A user agent counter-robots classifies as neither robot nor machine."""

PUBLIC_IPS = (
    "8.8.8.8",
    "128.141.0.1",
    "193.0.14.129",
    "202.12.27.33",
    "200.160.0.8",
    "196.216.2.1",
    "81.2.69.160",
    "134.76.0.1",
    "130.237.0.1",
    "203.2.218.214",
    "147.162.0.1",
)
"""Fixed public addresses that GeoIP places in different countries."""

REFERRER = "https://example.com/records/{recid}"
LOGGED_IN_SHARE = 0.3
"""Share of synthetic visitors that carry a user id (the rest only a session)."""
DOWNLOAD_DELAY_SECONDS = 300
"""A download follows its view by up to this much, inside the same month."""

CHUNK_SIZE = 1000
"""Events built, preprocessed, enriched and written together."""
RECORD_PAGE_SIZE = 500
RECORD_FIELDS = ["id", "uuid", "parent.id", "created", "files.enabled"]

SALT_KEY = "stats:salt:{}"
"""invenio-stats' cache key of a day's anonymisation salt (``get_anonymization_salt``)."""
SALT_TIMEOUT = 60 * 60 * 24
SALT_NAMESPACE = "invenio-stats-dashboard synthetic events"


# ------------------------------------------------------------------------ options


@dataclass(frozen=True)
class GenerationOptions:
    """What to generate, after the command line was checked."""

    start_date: date | None = None
    """First UTC day of record creation (None: the earliest record)."""
    end_date: date | None = None
    """Last UTC day of record creation (None: today)."""
    event_start_date: date | None = None
    """Earliest event day (None: each record's creation)."""
    event_end_date: date | None = None
    """Latest event day, whose end is capped at now (None: now)."""
    events_per_record: int = 5
    max_records: int = 0
    """Records used at most (0: all)."""
    enrich: bool = False
    use_migrated_indices: bool = False
    seed: int = 0

    @property
    def enriches(self) -> bool:
        """Whether events get enrichment fields (implied by migrated indices)."""
        return self.enrich or self.use_migrated_indices


def draw_seed() -> int:
    """Return a fresh seed, printed so that the run can be repeated."""
    return random.SystemRandom().randrange(2**31)


# ------------------------------------------------------------------- pure planning


@dataclass(frozen=True)
class MonthSpan:
    """The part of one calendar month inside an event window (whole seconds, UTC)."""

    month: str
    start: datetime
    end: datetime


def ceil_second(moment: datetime) -> datetime:
    """Round up to a whole second, so a timestamp is never before ``moment``."""
    whole = moment.replace(microsecond=0)
    return whole + timedelta(seconds=1) if whole < moment else whole


def floor_second(moment: datetime) -> datetime:
    """Round down to a whole second."""
    return moment.replace(microsecond=0)


def event_window(
    created: datetime,
    event_start: date | None,
    event_end: date | None,
    now: datetime,
) -> tuple[datetime, datetime] | None:
    """Return the span a record's events fall in, or None when it is empty.

    It starts at the later of the record's creation and the event start day and ends
    at the end of the event end day, never after ``now``.
    """
    start = created if event_start is None else max(created, start_of_day(event_start))
    end = now if event_end is None else min(now, end_of_day(event_end))
    start, end = ceil_second(start), floor_second(end)
    return (start, end) if start <= end else None


def _next_month(first_day: datetime) -> datetime:
    return (first_day.replace(day=28) + timedelta(days=4)).replace(day=1)


def month_spans(start: datetime, end: datetime) -> list[MonthSpan]:
    """Cut ``[start, end]`` into calendar months, oldest first."""
    spans = []
    cursor = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while cursor <= end:
        following = _next_month(cursor)
        spans.append(
            MonthSpan(
                month=cursor.strftime("%Y-%m"),
                start=max(start, cursor),
                end=min(end, following - timedelta(seconds=1)),
            )
        )
        cursor = following
    return spans


def split_evenly(total: int, buckets: int) -> list[int]:
    """Share ``total`` over ``buckets``; the remainder goes to the first ones.

    The counts always add up to ``total``, so the number of events is exact.
    """
    if buckets <= 0:
        return []
    base, remainder = divmod(total, buckets)
    return [base + 1] * remainder + [base] * (buckets - remainder)


def plan_record(
    created: datetime,
    options: GenerationOptions,
    now: datetime,
) -> list[tuple[MonthSpan, int]]:
    """Return the months of one record's events with their view counts (> 0 only)."""
    window = event_window(
        created, options.event_start_date, options.event_end_date, now
    )
    if window is None:
        return []
    spans = month_spans(*window)
    counts = split_evenly(options.events_per_record, len(spans))
    return [(span, count) for span, count in zip(spans, counts, strict=True) if count]


def random_timestamp(rng: random.Random, span: MonthSpan) -> datetime:
    """Return a random whole second inside ``span`` (both ends included)."""
    seconds = int((span.end - span.start).total_seconds())
    return span.start + timedelta(seconds=rng.randint(0, seconds))


# -------------------------------------------------------------- pure event building


@dataclass(frozen=True)
class Visitor:
    """Who makes one view (and its download): what ``get_user()`` would return."""

    user_id: str | None
    session_id: str
    ip_address: str


@dataclass(frozen=True)
class FileInfo:
    """The parts of a record's ``ObjectVersion`` a download event carries."""

    bucket_id: str
    file_id: str
    key: str
    size: int


@dataclass(frozen=True)
class SourceRecord:
    """A published record version the events are about."""

    recid: str
    uuid: str
    parent_recid: str
    created: datetime
    has_files: bool
    files: tuple[FileInfo, ...] = ()


def synthetic_visitor(rng: random.Random) -> Visitor:
    """Draw a new visitor: a session id, sometimes a user id, a public IP.

    Ids are 64 or 128 random bits, so two visitors practically never share one,
    and no two events fall on one ``_id`` in invenio-stats' double-click window.
    """
    session_id = f"{rng.getrandbits(128):032x}"
    user_id = (
        f"synthetic-{rng.getrandbits(64):016x}"
        if rng.random() < LOGGED_IN_SHARE
        else None
    )
    return Visitor(user_id, session_id, rng.choice(PUBLIC_IPS))


def _naive_iso(moment: datetime) -> str:
    """``datetime.utcnow().isoformat()`` as the builders write it."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat()


def _who(record: SourceRecord, visitor: Visitor) -> dict[str, Any]:
    return {
        "referrer": REFERRER.format(recid=record.recid),
        "ip_address": visitor.ip_address,
        "user_agent": BROWSER_USER_AGENT,
        "user_id": visitor.user_id,
        "session_id": visitor.session_id,
    }


def view_event(
    record: SourceRecord, timestamp: datetime, visitor: Visitor
) -> dict[str, Any]:
    """Build the record-view event InvenioRDM's builders queue for a UI view."""
    return {
        "timestamp": _naive_iso(timestamp),
        "recid": record.recid,
        "parent_recid": record.parent_recid,
        **_who(record, visitor),
        "via_api": False,
    }


def download_event(
    record: SourceRecord, file: FileInfo, timestamp: datetime, visitor: Visitor
) -> dict[str, Any]:
    """Build the file-download event InvenioRDM's builders queue for a UI download."""
    return {
        "timestamp": _naive_iso(timestamp),
        "bucket_id": file.bucket_id,
        "file_id": file.file_id,
        "file_key": file.key,
        "size": file.size,
        "recid": record.recid,
        "parent_recid": record.parent_recid,
        **_who(record, visitor),
        "via_api": False,
    }


def record_events(
    record: SourceRecord,
    plan: Sequence[tuple[MonthSpan, int]],
    rng: random.Random,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(stats type, raw event)``: per view, its download when there are files.

    The download uses one of the record's real files and stays in the view's month.
    """
    for span, count in plan:
        for _ in range(count):
            visitor = synthetic_visitor(rng)
            viewed = random_timestamp(rng, span)
            yield VIEW, view_event(record, viewed, visitor)
            if record.files:
                file = rng.choice(record.files)
                delay = timedelta(seconds=rng.randint(0, DOWNLOAD_DELAY_SECONDS))
                downloaded = min(viewed + delay, span.end)
                yield DOWNLOAD, download_event(record, file, downloaded, visitor)


def chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Yield lists of at most ``size`` items."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def seeded_salt(seed: int, day: date) -> str:
    """Return the anonymisation salt of ``day`` for ``seed`` (shaped like a real one)."""
    material = f"{SALT_NAMESPACE}|{seed}|{day.isoformat()}".encode()
    return base64.b64encode(hashlib.sha256(material).digest()).decode("ascii")


def pinnable_day(day: date, now: datetime) -> bool:
    """Whether no live event can use ``day``'s salt any more (before yesterday)."""
    return day < now.date() - timedelta(days=1)


# ------------------------------------------------------------------ record reading


def record_query(options: GenerationOptions) -> dict[str, Any]:
    """Select published, non-deleted versions created in the UTC-day window."""
    created: dict[str, str] = {}
    if options.start_date:
        created["gte"] = start_of_day(options.start_date).isoformat()
    if options.end_date:
        created["lte"] = end_of_day(options.end_date).isoformat()
    filters: list[dict[str, Any]] = [{"range": {"created": created}}] if created else []
    return {
        "bool": {
            "filter": filters,
            "must_not": [{"term": {"is_deleted": True}}],
        }
    }


def source_record(source: Mapping[str, Any]) -> SourceRecord:
    """Read what the generator needs from an indexed record."""
    created = parse_utc(source["created"])
    assert created is not None
    return SourceRecord(
        recid=source["id"],
        uuid=source["uuid"],
        parent_recid=(source.get("parent") or {})["id"],
        created=created,
        has_files=bool((source.get("files") or {}).get("enabled")),
    )


def iter_record_pages(
    client, options: GenerationOptions, limit: int
) -> Iterator[list[SourceRecord]]:
    """Yield pages of records, oldest first, stopping after ``limit`` (0: no cap)."""
    page_size = min(RECORD_PAGE_SIZE, limit) if limit else RECORD_PAGE_SIZE
    seen = 0
    for hits in search_after_pages(
        client,
        index=prefix_index(RECORDS_ALIAS),
        body={"query": record_query(options), "_source": RECORD_FIELDS},
        sort=[{"created": "asc"}, {"id": "asc"}],
        page_size=page_size,
    ):
        if limit:
            hits = hits[: limit - seen]
        seen += len(hits)
        yield [source_record(hit["_source"]) for hit in hits]
        if limit and seen >= limit:
            return


def database_files(record_uuids: Sequence[str]) -> dict[str, tuple[FileInfo, ...]]:
    """Return the files of each record as the download builder sees them.

    The records index does not hold ``bucket_id`` (and hides the entries of
    restricted files), so the ``ObjectVersion`` of each file comes from the
    database, exactly the object the real builder gets.
    """
    from invenio_rdm_records.records.api import RDMRecord

    if not record_uuids:
        return {}
    files: dict[str, tuple[FileInfo, ...]] = {}
    for record in RDMRecord.get_records(list(record_uuids)):
        infos = []
        for key in sorted(record.files.entries):
            obj = record.files.entries[key].object_version
            if obj is None or obj.file is None:
                continue
            infos.append(
                FileInfo(str(obj.bucket_id), str(obj.file_id), obj.key, obj.file.size)
            )
        files[str(record.id)] = tuple(infos)
    return files


def with_files(
    records: list[SourceRecord],
    read_files: Callable[[Sequence[str]], Mapping[str, tuple[FileInfo, ...]]],
) -> list[SourceRecord]:
    """Attach the real files to the records that have files enabled."""
    found = read_files([r.uuid for r in records if r.has_files])
    return [
        replace(r, files=found.get(r.uuid, ())) if r.has_files else r for r in records
    ]


# -------------------------------------------------------------------- the run plan


@dataclass
class RunPlan:
    """What a run will write, from a first pass over the records (no randomness)."""

    records: int = 0
    records_without_window: int = 0
    events: Counter = field(default_factory=Counter)
    """``(stats type, YYYY-MM)`` → events."""

    @property
    def total(self) -> int:
        """Events of both types."""
        return sum(self.events.values())

    def of_type(self, stats_type: str) -> int:
        """Events of one type."""
        return sum(n for (t, _), n in self.events.items() if t == stats_type)

    @property
    def months(self) -> list[str]:
        """Months with at least one event, oldest first."""
        return sorted({month for _, month in self.events})


def add_record_to_plan(
    plan: RunPlan, record: SourceRecord, options: GenerationOptions, now: datetime
) -> None:
    """Count one record's events per type and month.

    A record with files enabled is counted with its downloads; should its files turn
    out to be missing in the database, the run writes fewer than planned.
    """
    plan.records += 1
    months = plan_record(record.created, options, now)
    if not months:
        plan.records_without_window += 1
    for span, count in months:
        plan.events[(VIEW, span.month)] += count
        if record.has_files:
            plan.events[(DOWNLOAD, span.month)] += count


def plan_run(client, options: GenerationOptions, now: datetime) -> RunPlan:
    """First pass over the records: how many events of each type go to each month."""
    plan = RunPlan()
    for page in iter_record_pages(client, options, options.max_records):
        for record in page:
            add_record_to_plan(plan, record, options, now)
    return plan


# ------------------------------------------------------------------ index routing


class GenerationRefused(Exception):
    """The run would put unenriched events into an enriched month; nothing written."""


@dataclass(frozen=True)
class IndexState:
    """Whether an index (or alias) exists and carries the enriched marker."""

    name: str
    exists: bool
    enriched: bool = False


@dataclass(frozen=True)
class Route:
    """Where the events of one type and month go."""

    index: str
    create: str | None = None
    """``"enriched"`` or ``"unenriched"`` when the index must be created first."""


def choose_route(
    monthly: IndexState, target: IndexState, enrich: bool, use_migrated: bool
) -> Route:
    """Decide the index of one (type, month); raise GenerationRefused when unsafe.

    - migrated indices requested and the ``-v2.0.0`` target exists → the target;
    - the monthly index exists → it, unless it is enriched and events are not;
    - otherwise the monthly index is created: from the v2 template when events are
      enriched, else with the marker false so the migration picks the month up.
    """
    if use_migrated and target.exists:
        return Route(target.name)
    if monthly.exists:
        if monthly.enriched and not enrich:
            raise GenerationRefused(
                f"{monthly.name} holds enriched events (_meta.{ENRICHED_MARKER} is "
                "true); unenriched events may not go there: add --enrich-events or "
                "--use-migrated-indices"
            )
        return Route(monthly.name)
    return Route(monthly.name, create="enriched" if enrich else "unenriched")


def index_state(client, name: str) -> IndexState:
    """Look up an index or alias name (an alias counts as enriched if any index is)."""
    if not client.indices.exists(index=name):
        return IndexState(name, False)
    metas = index_meta(client, name).values()
    return IndexState(name, True, any(is_enriched_mapping(m) for m in metas))


def resolve_routes(
    client, plan: RunPlan, options: GenerationOptions
) -> dict[tuple[str, str], Route]:
    """Route every planned (type, month), read-only; refuse all problems at once."""
    routes: dict[tuple[str, str], Route] = {}
    problems: list[str] = []
    for stats_type, month in sorted(plan.events):
        cli_type = CLI_TYPES[stats_type]
        monthly = index_state(client, month_index(cli_type, month))
        target = (
            index_state(client, target_index(cli_type, month))
            if options.use_migrated_indices
            else IndexState(target_index(cli_type, month), False)
        )
        try:
            routes[(stats_type, month)] = choose_route(
                monthly, target, options.enriches, options.use_migrated_indices
            )
        except GenerationRefused as error:
            problems.append(str(error))
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise GenerationRefused(problems[0] + more)
    return routes


def new_index_body(stats_type: str, prefix: str, enriched: bool) -> dict[str, Any]:
    """Return the v2 template's settings, mappings and read alias, marker set.

    The read alias comes with the body (as the template would add it), so the new
    month is counted like any other month, whether or not the template is installed.
    """
    body = copy.deepcopy(template_body(EVENT_TEMPLATE_FILES[stats_type], prefix))
    section = body["template"]
    section["mappings"]["_meta"][ENRICHED_MARKER] = enriched
    return section


def prepare_routes(
    client,
    routes: Mapping[tuple[str, str], Route],
    prefix: str,
    fields: Sequence[EnrichedField] | None,
) -> list[str]:
    """Create the missing indices; give enriched ones every enrichment field.

    ``fields`` is None for unenriched runs. After creating, the markers are checked
    again (another process may have created an index meanwhile), still before any
    event is written. Returns the names created.
    """
    created = []
    for (stats_type, _month), route in sorted(routes.items()):
        if route.create:
            body = new_index_body(stats_type, prefix, route.create == "enriched")
            response = client.indices.create(index=route.index, body=body, ignore=400)
            if response.get("acknowledged"):
                created.append(route.index)
        if fields is not None:
            add_missing_properties(
                client, route.index, enrichment_properties(stats_type, fields)
            )
        elif index_state(client, route.index).enriched:
            raise GenerationRefused(
                f"{route.index} was created meanwhile with enriched events; "
                "nothing written"
            )
    return created


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
    from .enricher import EventEnricher

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
