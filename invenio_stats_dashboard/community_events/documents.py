"""Shape of one membership event document: fields, id and yearly index (01 §5.2)."""

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from typing import Any

from edtf import parse_edtf
from invenio_search.utils import prefix_index

from ..timeutils import format_utc, parse_utc, utc_now
from .membership import ADDED

logger = logging.getLogger(__name__)

INDEX_STEM = "stats-community-events"
"""Alias over every yearly index; yearly indices are ``{stem}-YYYY``."""

_YEAR_RANGE = re.compile(r"^(\d{4})-(\d{4})$")
_PLAIN_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


@dataclass(frozen=True)
class VersionInfo:
    """What the log needs to know about one published record version."""

    record_id: str
    parent_id: str
    created: datetime
    publication_date: str | None = None
    is_deleted: bool = False
    deleted_date: datetime | None = None
    community_ids: tuple[str, ...] = ()
    """The parent's communities (when the information was captured)."""

    @cached_property
    def published_date(self) -> datetime | None:
        """``metadata.publication_date`` normalised per 02 §4.2 (warns once)."""
        return normalize_publication_date(self.publication_date, self.record_id)


def alias_name() -> str:
    """``{P}stats-community-events``: the alias every reader searches."""
    return prefix_index(INDEX_STEM)


def index_for(event_date: datetime) -> str:
    """``{P}stats-community-events-YYYY`` for the UTC year of ``event_date``."""
    return prefix_index(f"{INDEX_STEM}-{event_date.astimezone(UTC).year}")


def event_id(
    community_id: str, record_id: str, event_type: str, event_date: datetime
) -> str:
    """Return the deterministic ``_id`` of 01 §5.2 rule 7."""
    stamp = event_date.astimezone(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{community_id}_{record_id}_{event_type}_{stamp}"


def _plain_start(text: str) -> datetime | None:
    """Start of ``YYYY[-MM[-DD]]``, or of an interval of such dates, without EDTF.

    Nearly every publication date has one of these forms; the EDTF parser costs
    milliseconds per value, which dominated a backfill. Anything else (seasons,
    qualifiers, datetimes, invalid month or day) returns None for the parser.
    """
    start, interval, end = text.partition("/")
    if interval and not (end == ".." or _PLAIN_DATE.match(end)):
        return None
    match = _PLAIN_DATE.match(start)
    if not match:
        return None
    year, month, day = match.group(1), match.group(2) or "1", match.group(3) or "1"
    try:
        return datetime(int(year), int(month), int(day), tzinfo=UTC)
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def _edtf_start(text: str) -> datetime | None:
    """Start day of any EDTF value, or None when unparsable (cached per value)."""
    try:
        lower = parse_edtf(text).lower_strict()
        return datetime(lower.tm_year, lower.tm_mon, lower.tm_mday, tzinfo=UTC)
    except Exception as error:  # edtf raises several unrelated types
        logger.debug("unparsable publication date %r: %s", text, error)
        return None


def normalize_publication_date(value: str | None, record_id: str) -> datetime | None:
    """Normalise an EDTF publication date to the start of its first day (02 §4.2)."""
    day = _first_day((value or "").strip())
    if day is None:
        logger.warning(
            "Record %s has no parsable publication date (%r); "
            "record_published_date is left empty.",
            record_id,
            value,
        )
    return day


def _first_day(text: str) -> datetime | None:
    """First day of a date, a ``YYYY-YYYY`` range or an EDTF value; None if none."""
    if not text:
        return None
    match = _YEAR_RANGE.match(text)
    if match:
        return datetime(int(match.group(1)), 1, 1, tzinfo=UTC)
    return _plain_start(text) or _edtf_start(text)


def build_event(
    version: VersionInfo,
    community_id: str,
    event_type: str,
    event_date: datetime,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Build the bulk ``index`` action of one event, with its id and yearly index."""
    now = now or utc_now()
    published = version.published_date
    source: dict[str, Any] = {
        "record_id": version.record_id,
        "community_id": community_id,
        "event_type": event_type,
        "event_date": format_utc(event_date),
        "record_created_date": format_utc(version.created),
        "record_published_date": format_utc(published) if published else None,
        "is_deleted": False,
        "deleted_date": None,
        "timestamp": format_utc(now),
        "updated_timestamp": format_utc(now),
    }
    if event_type == ADDED and version.is_deleted:
        source["is_deleted"] = True
        source["deleted_date"] = format_utc(version.deleted_date or now)
    return {
        "_op_type": "index",
        "_index": index_for(event_date),
        "_id": event_id(community_id, version.record_id, event_type, event_date),
        "_source": source,
    }


def deletion_flag_update(
    hit: dict[str, Any], deleted_date: datetime, *, now: datetime | None = None
) -> dict[str, Any]:
    """Build the bulk ``update`` flagging an ``added`` as closed by deletion."""
    return {
        "_op_type": "update",
        "_index": hit["_index"],
        "_id": hit["_id"],
        "doc": {
            "is_deleted": True,
            "deleted_date": format_utc(deleted_date),
            "updated_timestamp": format_utc(now or utc_now()),
        },
    }


def version_from_source(source: dict[str, Any]) -> VersionInfo:
    """Build a :class:`VersionInfo` from a ``rdmrecords-records`` document."""
    parent = source.get("parent") or {}
    communities = (parent.get("communities") or {}).get("ids") or []
    is_deleted = source.get("deletion_status", "P") != "P" or bool(
        source.get("is_deleted")
    )
    tombstone = source.get("tombstone") or {}
    created = parse_utc(source["created"])
    assert created is not None  # noqa: S101 - every indexed record has one
    return VersionInfo(
        record_id=source["id"],
        parent_id=parent.get("id", ""),
        created=created,
        publication_date=(source.get("metadata") or {}).get("publication_date"),
        is_deleted=is_deleted,
        deleted_date=parse_utc(tombstone.get("removal_date")) if is_deleted else None,
        community_ids=tuple(communities),
    )
