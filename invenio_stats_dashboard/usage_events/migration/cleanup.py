"""Maintenance after a migration: clear bookmarks, delete old indices (03 §6).

- :func:`plan_clear` / :func:`clear_bookmarks`: ``usage-events clear-bookmarks``.
  Without ``fresh_start`` only bookmarks go; a finalised month's data is never
  touched (the next run re-verifies and re-records it, 03 §4.5). With
  ``fresh_start`` the partly built target of each unfinalised month goes too, and a
  finalised month is refused and left exactly as it is.
- :func:`cleanup_items` / :func:`process_item`: ``usage-events cleanup-old-indices``.
  Candidates are the old and ``backup-`` indices of months whose bookmark says
  ``completed``; each is re-verified at id level (every id present in the target)
  right before it is deleted.
- :func:`remove_backup_aliases`: the deprecated ``usage-events remove-backup-aliases``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ...search_indices.paging import count
from ..names import EVENT_TYPES, read_alias
from .bookmarks import Bookmark, BookmarkStore
from .months import MonthIndices, take_inventory
from .progress import legacy_backup_indices
from .switch import delete_index, delete_target
from .verification import missing_ids

WOULD_DELETE = "would_delete"
DELETED = True
DELETE_FAILED = False
VALIDATION_FAILED = "validation_failed"
NOT_COMPLETED = "not_completed"
VALIDATION_ERROR = "validation_error"
FINALISED_REFUSAL = "finalised: use `migrate --reenrich`"
ONLY_COPY_REFUSAL = (
    "the old index is gone and the target is not finalised, so the target holds "
    "the only copy of its events"
)


def _order(event_type: str, month: str) -> tuple[str, int]:
    return month, list(EVENT_TYPES).index(event_type)


def _selected(
    event_type: str,
    month: str,
    event_types: Sequence[str],
    months: Iterable[str] | None,
) -> bool:
    return event_type in event_types and (months is None or month in set(months))


# ----------------------------------------------------------------- clear-bookmarks


@dataclass
class ClearItem:
    """What ``clear-bookmarks`` does to one event type and month."""

    event_type: str
    month: str
    bookmarks: list[Bookmark] = field(default_factory=list)
    target: str | None = None
    """The unfinalised target deleted with ``--fresh-start``."""
    refused: str | None = None
    """Why the month is left alone (``--fresh-start`` on a finalised month)."""


@dataclass
class ClearPlan:
    """The months ``clear-bookmarks`` selected, in order."""

    items: list[ClearItem] = field(default_factory=list)
    fresh_start: bool = False

    @property
    def to_clear(self) -> list[ClearItem]:
        """Months that are cleared."""
        return [item for item in self.items if item.refused is None]

    @property
    def refused(self) -> list[ClearItem]:
        """Months refused and left unchanged."""
        return [item for item in self.items if item.refused is not None]

    @property
    def bookmark_count(self) -> int:
        """Bookmarks to delete."""
        return sum(len(item.bookmarks) for item in self.to_clear)


def plan_clear(
    client,
    event_types: Sequence[str],
    months: Iterable[str] | None = None,
    fresh_start: bool = False,
) -> ClearPlan:
    """Select the bookmarks (and with ``fresh_start`` the targets) to clear.

    ``months`` None means every month of the types. Reads only; creates nothing.
    Migration (``-reindexing``) and re-enrichment (``-reenriching``) bookmarks are
    both selected; the run summary document is never touched.
    """
    store = BookmarkStore(client)
    bookmarks = store.all(reenrich=None) if store.exists() else []
    grouped: dict[tuple[str, str], list[Bookmark]] = {}
    for bookmark in bookmarks:
        if _selected(bookmark.event_type, bookmark.month, event_types, months):
            grouped.setdefault((bookmark.event_type, bookmark.month), []).append(
                bookmark
            )
    plan = ClearPlan(fresh_start=fresh_start)
    if not fresh_start:
        for key in sorted(grouped, key=lambda k: _order(*k)):
            plan.items.append(ClearItem(*key, bookmarks=grouped[key]))
        return plan
    migration = {(b.event_type, b.month): b for b in bookmarks if not b.reenrich}
    inventory = take_inventory(client, tuple(event_types), migration)
    for entry in inventory.ordered():
        if (
            entry.target_exists
            and not entry.finalised
            and _selected(entry.event_type, entry.month, event_types, months)
        ):
            grouped.setdefault((entry.event_type, entry.month), [])
    for key in sorted(grouped, key=lambda k: _order(*k)):
        entry = inventory.get(*key)
        item = ClearItem(*key, bookmarks=grouped[key])
        if entry.finalised:
            item.refused = FINALISED_REFUSAL
        elif entry.target_exists and not entry.source_exists:
            item.refused = ONLY_COPY_REFUSAL
        elif entry.target_exists:
            item.target = entry.target
        plan.items.append(item)
    return plan


@dataclass
class ClearOutcome:
    """What ``clear-bookmarks`` did."""

    lines: list[tuple[bool, str]] = field(default_factory=list)
    """``(ok, text)`` per bookmark, target and refused month."""
    deleted_bookmarks: int = 0
    deleted_targets: int = 0
    failures: int = 0
    refused: int = 0

    @property
    def exit_code(self) -> int:
        """1 when a delete failed or a month was refused."""
        return 1 if self.failures or self.refused else 0


def clear_bookmarks(client, plan: ClearPlan) -> ClearOutcome:
    """Delete the planned bookmarks and targets; never raises for one item."""
    store = BookmarkStore(client)
    outcome = ClearOutcome()
    for item in plan.items:
        if item.refused is not None:
            outcome.refused += 1
            outcome.lines.append(
                (False, f"[REFUSED] {item.event_type} {item.month}: {item.refused}")
            )
            continue
        all_gone = True
        for bookmark in item.bookmarks:
            try:
                existed = store.delete(bookmark)
            except Exception as error:
                all_gone = False
                outcome.failures += 1
                outcome.lines.append(
                    (False, f"[FAIL] bookmark {bookmark.task_id}: {error}")
                )
                continue
            if existed:
                outcome.deleted_bookmarks += 1
                outcome.lines.append(
                    (True, f"[OK] bookmark {bookmark.task_id} deleted")
                )
            else:
                outcome.lines.append(
                    (True, f"[OK] bookmark {bookmark.task_id} was already gone")
                )
        if item.target is None:
            continue
        if not all_gone:
            outcome.lines.append(
                (False, f"[SKIP] target {item.target} kept: its bookmark remains")
            )
            continue
        entry = MonthIndices(item.event_type, item.month, target_exists=True)
        try:
            deleted = delete_target(client, entry)
        except Exception as error:
            deleted, reason = False, str(error)
        else:
            reason = "not deleted"
        if deleted:
            outcome.deleted_targets += 1
            outcome.lines.append((True, f"[OK] target {item.target} deleted"))
        elif reason == "not deleted" and not client.indices.exists(index=item.target):
            outcome.lines.append((True, f"[OK] target {item.target} was already gone"))
        else:
            outcome.failures += 1
            outcome.lines.append((False, f"[FAIL] target {item.target}: {reason}"))
    return outcome


# ------------------------------------------------------------- cleanup-old-indices


@dataclass
class CleanupItem:
    """One old or backup index and what ``cleanup-old-indices`` did with it."""

    event_type: str
    month: str
    kind: str
    """``old`` (the pre-installation monthly index) or ``backup``."""
    index: str
    target: str
    index_count: int | None = None
    target_count: int | None = None
    result: str | bool | None = None
    """``would_delete``, True, False, ``validation_failed``, ``not_completed`` or
    ``validation_error``."""
    reason: str | None = None

    @property
    def result_text(self) -> str:
        """The result as printed (``True``/``False`` for deletions)."""
        return str(self.result)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)


def cleanup_items(client, event_types: Sequence[str]) -> list[CleanupItem]:
    """Every old and backup index of the types; non-completed months are marked.

    Items of months whose bookmark is not ``completed`` come back with the result
    ``not_completed`` already set; the others are the candidates.
    """
    store = BookmarkStore(client)
    bookmarks = store.by_month() if store.exists() else {}
    inventory = take_inventory(client, tuple(event_types), bookmarks)
    items = []
    for entry in inventory.ordered():
        indices = []
        if entry.legacy_source:
            indices.append(("old", entry.source))
        if entry.backup_exists:
            indices.append(("backup", entry.backup))
        for kind, name in indices:
            item = CleanupItem(entry.event_type, entry.month, kind, name, entry.target)
            if not entry.completed:
                item.result = NOT_COMPLETED
                item.reason = (
                    "the month has no completed bookmark"
                    if entry.bookmark is None
                    else f"the month is not completed (phase {entry.bookmark.phase})"
                )
                item.index_count = count(client, name)
            items.append(item)
    return items


def verify_in_target(client, item: CleanupItem) -> str | None:
    """Check that ``item.index`` may go; return why not, or None.

    The target must exist and hold the read alias, the index itself must not hold
    it, and every id of the index must be in the target.
    """
    alias = read_alias(item.event_type)
    found = client.indices.get_alias(
        index=f"{item.target},{item.index}", ignore_unavailable=True
    )
    if item.target not in found:
        return f"{item.target} does not exist"
    if alias not in ((found[item.target] or {}).get("aliases") or {}):
        return f"{item.target} does not hold the read alias {alias}"
    if alias in ((found.get(item.index) or {}).get("aliases") or {}):
        return f"{item.index} still holds the read alias {alias}"
    client.indices.refresh(index=item.target)
    item.index_count = count(client, item.index)
    item.target_count = count(client, item.target)
    missing = sum(len(ids) for ids in missing_ids(client, item.index, item.target))
    if missing:
        return f"{missing} events of {item.index} are missing in {item.target}"
    return None


def process_item(client, item: CleanupItem, dry_run: bool) -> CleanupItem:
    """Re-check the bookmark, verify at id level, then delete (or say it would)."""
    if item.result == NOT_COMPLETED:
        return item
    try:
        bookmark = BookmarkStore(client).get(item.event_type, item.month)
        if bookmark is None or not bookmark.completed:
            item.result = NOT_COMPLETED
            item.reason = "the month's bookmark is no longer completed"
            return item
        problem = verify_in_target(client, item)
    except Exception as error:
        item.result, item.reason = VALIDATION_ERROR, f"{type(error).__name__}: {error}"
        return item
    if problem is not None:
        item.result, item.reason = VALIDATION_FAILED, problem
        return item
    if dry_run:
        item.result = WOULD_DELETE
        return item
    try:
        item.result = DELETED if delete_index(client, item.index) else DELETE_FAILED
        if item.result is DELETE_FAILED:
            item.reason = "the delete was not acknowledged"
    except Exception as error:
        item.result, item.reason = DELETE_FAILED, f"{type(error).__name__}: {error}"
    return item


@dataclass
class CleanupSummary:
    """Totals of ``cleanup-old-indices``."""

    deleted: int
    total: int
    dry_run: bool
    failed: bool

    @property
    def line(self) -> str:
        """``[SUMMARY] x/y indices (would be) deleted``."""
        verb = "would be deleted" if self.dry_run else "deleted"
        return f"[SUMMARY] {self.deleted}/{self.total} indices {verb}"


def summarise(items: Sequence[CleanupItem], dry_run: bool) -> CleanupSummary:
    """Count the deleted (or deletable) indices among every listed one."""
    deleted = sum(
        1
        for item in items
        if (item.result == WOULD_DELETE if dry_run else item.result is DELETED)
    )
    return CleanupSummary(
        deleted=deleted,
        total=len(items),
        dry_run=dry_run,
        failed=any(
            item.result is DELETE_FAILED
            or item.result in (VALIDATION_FAILED, VALIDATION_ERROR)
            for item in items
        ),
    )


# ------------------------------------------------------------ remove-backup-aliases


@dataclass
class BackupAliasResult:
    """The aliases of one ``…-backup`` index and what happened to them."""

    index: str
    aliases: list[str]
    ok: bool = True
    removed: bool = False
    reason: str | None = None


def remove_backup_aliases(
    client, dry_run: bool, event_types: Sequence[str] = tuple(EVENT_TYPES)
) -> list[BackupAliasResult]:
    """Remove every alias of the indices named ``…-{YYYY-MM}-backup``.

    One ``_aliases`` request per index; an index without aliases is listed as is.
    """
    results = []
    for row in legacy_backup_indices(client, event_types):
        result = BackupAliasResult(row["index"], row["aliases"])
        results.append(result)
        if not result.aliases or dry_run:
            continue
        try:
            client.indices.update_aliases(
                body={
                    "actions": [
                        {"remove": {"index": result.index, "alias": alias}}
                        for alias in result.aliases
                    ]
                }
            )
            result.removed = True
        except Exception as error:
            result.ok, result.reason = False, f"{type(error).__name__}: {error}"
    return results


__all__ = (
    "DELETED",
    "DELETE_FAILED",
    "NOT_COMPLETED",
    "VALIDATION_ERROR",
    "VALIDATION_FAILED",
    "WOULD_DELETE",
    "ClearPlan",
    "CleanupItem",
    "clear_bookmarks",
    "cleanup_items",
    "plan_clear",
    "process_item",
    "remove_backup_aliases",
    "summarise",
)
