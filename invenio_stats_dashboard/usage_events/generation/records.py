"""Reading the records events are generated for, and the first-pass run plan."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from invenio_search.utils import prefix_index

from ...search_indices.paging import RECORDS_ALIAS, search_after_pages
from ...timeutils import end_of_day, parse_utc, start_of_day
from .planning import (
    DOWNLOAD,
    RECORD_FIELDS,
    RECORD_PAGE_SIZE,
    VIEW,
    FileInfo,
    GenerationOptions,
    SourceRecord,
    plan_record,
)

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
