"""Pure planning of synthetic events: options, windows, month split, raw events.

No I/O here: every function is a deterministic function of its arguments and the
seeded random generator, so the whole plan is unit-testable.
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from typing import Any

from ...timeutils import end_of_day, start_of_day

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
