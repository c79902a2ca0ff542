"""Per-month migration and re-enrichment bookmarks (03 §4.7, 01 §5.8).

One document per event type and month in ``{P}stats-bookmarks-reindexing``. The
cursor (``last_event_timestamp``, ``last_event_id``) is the last event of the last
fully written batch; a run resumes right after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from ...search_indices.paging import iter_hits
from ...search_indices.templates import bookmark_index_body
from ...timeutils import format_utc, parse_utc, utc_now
from ..event_mappings import add_missing_properties
from ..names import BOOKMARK_INDEX, RUN_SUMMARY_ID, bookmark_id, bookmark_index

COPYING = "copying"
SWITCHING = "switching"
COMPLETED = "completed"
FAILED = "failed"


@dataclass
class Bookmark:
    """The stored state of one month."""

    event_type: str
    month: str
    reenrich: bool = False
    last_event_id: str | None = None
    last_event_timestamp: str | None = None
    completed: bool = False
    phase: str = COPYING
    processed_count: int = 0
    source_count: int | None = None
    source_index: str | None = None
    target_index: str | None = None
    enrichment_fingerprint: str | None = None
    cutoff: str | None = None
    last_error: str | None = None
    updated_timestamp: str | None = None

    @property
    def task_id(self) -> str:
        """The document id, ``{type}-{YYYY-MM}-reindexing`` / ``-reenriching``."""
        return bookmark_id(self.event_type, self.month, self.reenrich)

    @property
    def cursor(self) -> list[Any] | None:
        """``search_after`` values of the cursor, or None at the start."""
        if not self.last_event_id or not self.last_event_timestamp:
            return None
        timestamp = parse_utc(self.last_event_timestamp)
        assert timestamp is not None  # noqa: S101 - written by advance()
        return [int(timestamp.timestamp() * 1000), self.last_event_id]

    def advance(self, hit: dict[str, Any], copied: int) -> None:
        """Move the cursor to ``hit`` after ``copied`` more events were written."""
        self.last_event_id = hit["_id"]
        self.last_event_timestamp = format_utc(
            datetime.fromtimestamp(hit["sort"][0] / 1000, tz=UTC)
        )
        self.processed_count += copied

    def reset(self, error: str | None = None) -> None:
        """Back to the first event (a failed verification, 03 §4.9)."""
        self.last_event_id = self.last_event_timestamp = None
        self.processed_count = 0
        self.completed = False
        self.phase = FAILED if error else COPYING
        self.last_error = error

    def to_document(self) -> dict[str, Any]:
        """Return the stored document."""
        data = asdict(self)
        for key in ("event_type", "month", "reenrich"):
            data.pop(key)
        data["task_id"] = self.task_id
        data["updated_timestamp"] = format_utc(utc_now())
        return data

    @classmethod
    def from_document(cls, source: dict[str, Any]) -> Bookmark:
        """Rebuild a bookmark from its stored document."""
        event_type, month, kind = parse_task_id(source["task_id"])
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in source.items() if k in known}
        values.update(
            event_type=event_type, month=month, reenrich=kind == "reenriching"
        )
        values["processed_count"] = int(values.get("processed_count") or 0)
        values["completed"] = bool(values.get("completed"))
        values["phase"] = values.get("phase") or (
            COMPLETED if values["completed"] else COPYING
        )
        return cls(**values)


def parse_task_id(task_id: str) -> tuple[str, str, str]:
    """Split ``view-2024-05-reindexing`` into (``view``, ``2024-05``, ``reindexing``)."""
    event_type, rest = task_id.split("-", 1)
    month, kind = rest[:7], rest[8:]
    return event_type, month, kind


class BookmarkStore:
    """Read and write the bookmarks of the reindexing bookmark index."""

    def __init__(self, client) -> None:
        self.client = client
        self.index = bookmark_index()
        self._ready = False

    def ensure(self) -> None:
        """Create the index, or add the fields this version maps to an older one."""
        if self._ready:
            return
        body = bookmark_index_body(BOOKMARK_INDEX)
        if not self.client.indices.exists(index=self.index):
            self.client.indices.create(index=self.index, body=body, ignore=400)
        else:
            add_missing_properties(
                self.client, self.index, body["mappings"]["properties"]
            )
        self._ready = True

    def exists(self) -> bool:
        """Whether the bookmark index exists (read-only callers check first)."""
        return bool(self.client.indices.exists(index=self.index))

    def get(
        self, event_type: str, month: str, reenrich: bool = False
    ) -> Bookmark | None:
        """Return the bookmark of a month, or None."""
        response = self.client.get(
            index=self.index, id=bookmark_id(event_type, month, reenrich), ignore=404
        )
        if not response.get("found"):
            return None
        return Bookmark.from_document(response["_source"])

    def put(self, bookmark: Bookmark) -> None:
        """Write a bookmark (visible to the next read at once)."""
        self.ensure()
        document = bookmark.to_document()
        bookmark.updated_timestamp = document["updated_timestamp"]
        self.client.index(
            index=self.index, id=bookmark.task_id, body=document, refresh="true"
        )

    def delete(self, bookmark_or_id: Bookmark | str) -> bool:
        """Delete one bookmark; True when it existed."""
        task_id = (
            bookmark_or_id.task_id
            if isinstance(bookmark_or_id, Bookmark)
            else bookmark_or_id
        )
        response = self.client.delete(
            index=self.index, id=task_id, ignore=404, refresh="true"
        )
        return response.get("result") == "deleted"

    def all(self, reenrich: bool | None = False) -> list[Bookmark]:
        """Every month bookmark (of migration, re-enrichment or both)."""
        if not self.exists():
            return []
        found = []
        hits = iter_hits(
            self.client,
            index=self.index,
            body={"query": {"match_all": {}}},
            sort=[{"task_id": "asc"}],
        )
        for hit in hits:
            task_id = hit["_source"].get("task_id") or hit["_id"]
            if task_id == RUN_SUMMARY_ID or not task_id.endswith(
                ("-reindexing", "-reenriching")
            ):
                continue
            bookmark = Bookmark.from_document({**hit["_source"], "task_id": task_id})
            if reenrich is None or bookmark.reenrich == reenrich:
                found.append(bookmark)
        return found

    def by_month(self, reenrich: bool = False) -> dict[tuple[str, str], Bookmark]:
        """``{(event type, month): bookmark}``."""
        return {(b.event_type, b.month): b for b in self.all(reenrich)}

    def run_summary(self) -> dict[str, Any] | None:
        """Return the summary document of the last completed run, if any."""
        if not self.exists():
            return None
        response = self.client.get(index=self.index, id=RUN_SUMMARY_ID, ignore=404)
        return response.get("_source") if response.get("found") else None

    def put_run_summary(self, fingerprint: str, cutoff: str | None = None) -> None:
        """Record that every month is complete under ``fingerprint``."""
        self.ensure()
        self.client.index(
            index=self.index,
            id=RUN_SUMMARY_ID,
            body={
                "task_id": RUN_SUMMARY_ID,
                "completed": True,
                "phase": COMPLETED,
                "enrichment_fingerprint": fingerprint,
                "cutoff": cutoff,
                "updated_timestamp": format_utc(utc_now()),
            },
            refresh="true",
        )

    def delete_many(self, bookmarks: Iterable[Bookmark]) -> int:
        """Delete bookmarks; return how many existed."""
        return sum(1 for b in bookmarks if self.delete(b))
