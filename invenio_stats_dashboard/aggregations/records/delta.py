"""Records delta documents of one scope over a range of days (04 §4.2, 01 §5.3).

A version is added on a day when it is a member at the end of that day and was not
at the end of the day before; removed in the opposite case. So an addition and a
removal on the same day net out, and a removal followed by a deletion subtracts
once. Parents follow the split rule: a represented parent is ``with_files`` when
any member version has files.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from ..days import day_end_label, day_start_label, days_between
from ..subcounts import SubcountSpec
from .members import ScopeMembers
from .versions import VersionFacts

SPLITS = ("metadata_only", "with_files")


def zero_splits() -> dict[str, dict[str, int]]:
    """Return ``{added: {split: 0}, removed: {split: 0}}``."""
    return {side: dict.fromkeys(SPLITS, 0) for side in ("added", "removed")}


def file_metrics(files: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Return ``{file_count, data_volume}`` of ``(ext, size)`` pairs."""
    chosen = list(files)
    return {"file_count": len(chosen), "data_volume": sum(size for _, size in chosen)}


def parent_splits(
    members: Iterable[str], versions: Mapping[str, VersionFacts]
) -> dict[str, str]:
    """Return each represented parent's split (with files if any member has them)."""
    splits: dict[str, str] = {}
    for record_id in members:
        version = versions[record_id]
        if splits.get(version.parent_id) != "with_files":
            splits[version.parent_id] = version.split
    return splits


def transitions(
    before: set[str], after: set[str], versions: Mapping[str, VersionFacts]
) -> tuple[dict, dict]:
    """Return the records and parents added / removed per split."""
    records, parents = zero_splits(), zero_splits()
    for record_id in after - before:
        records["added"][versions[record_id].split] += 1
    for record_id in before - after:
        records["removed"][versions[record_id].split] += 1
    old, new = parent_splits(before, versions), parent_splits(after, versions)
    for parent in old.keys() | new.keys():
        if old.get(parent) != new.get(parent):
            if parent in new:
                parents["added"][new[parent]] += 1
            if parent in old:
                parents["removed"][old[parent]] += 1
    return records, parents


class DeltaBuilder:
    """Build the day documents of one scope from its versions and memberships."""

    def __init__(
        self,
        scope: str,
        specs: Sequence[SubcountSpec],
        versions: Mapping[str, VersionFacts],
        members: ScopeMembers,
    ):
        """Index which versions carry which item, once per pass."""
        self.scope = scope
        self.specs = specs
        self.versions = versions
        self.members = members
        self.carriers: dict[str, dict[str, set[str]]] = {}
        for spec in specs:
            by_item = self.carriers.setdefault(spec.key, {})
            for record_id, version in versions.items():
                for item_id in version.items.get(spec.key, {}):
                    by_item.setdefault(item_id, set()).add(record_id)

    def documents(
        self, first: date, last: date, computed_at: str
    ) -> Iterator[tuple[date, dict[str, Any]]]:
        """Yield one document per day; days without a membership change are zeros."""
        known = set(self.versions)
        changes = set(self.members.change_days(first, last))
        before = self.members.members_at_end_of(first - timedelta(days=1)) & known
        for day in days_between(first, last):
            after = before
            if day in changes:
                after = self.members.members_at_end_of(day) & known
            yield day, self.document(day, before, after, computed_at)
            before = after

    def document(
        self, day: date, before: set[str], after: set[str], computed_at: str
    ) -> dict[str, Any]:
        """Return the delta document of ``day`` from the member sets around it."""
        added, removed = after - before, before - after
        records, parents = transitions(before, after, self.versions)
        owners = {self.versions[r].owner for r in added} - {None}
        return {
            "timestamp": computed_at,
            "community_id": self.scope,
            "period_start": day_start_label(day),
            "period_end": day_end_label(day),
            "records": records,
            "parents": parents,
            "files": {
                "added": file_metrics(f for r in added for f in self.versions[r].files),
                "removed": file_metrics(
                    f for r in removed for f in self.versions[r].files
                ),
            },
            "uploaders": len(owners),
            "subcounts": {
                spec.key: self._items(spec, before, after, added | removed)
                for spec in self.specs
            },
            "updated_timestamp": computed_at,
        }

    def _items(
        self, spec: SubcountSpec, before: set[str], after: set[str], changed: set[str]
    ) -> list[dict[str, Any]]:
        """Return the items carried by a version added or removed that day."""
        touched = {
            item_id
            for record_id in changed
            for item_id in self.versions[record_id].items.get(spec.key, {})
        }
        items = []
        for item_id in sorted(touched):
            carriers = self.carriers[spec.key][item_id]
            was, now = before & carriers, after & carriers
            records, parents = transitions(was, now, self.versions)
            items.append(
                {
                    "id": item_id,
                    "label": self._label(spec, item_id, was | now),
                    "records": records,
                    "parents": parents,
                    "files": {
                        "added": self._files(spec, item_id, now - was),
                        "removed": self._files(spec, item_id, was - now),
                    },
                }
            )
        return items

    def _files(self, spec: SubcountSpec, item_id: str, ids: set[str]) -> dict:
        return file_metrics(
            f for r in ids for f in self.versions[r].item_files(spec.key, item_id)
        )

    def _label(self, spec: SubcountSpec, item_id: str, carriers: set[str]) -> Any:
        """Return the label of the most recently updated carrier that has one."""
        labelled = [
            (self.versions[r].updated, r, self.versions[r].items[spec.key][item_id])
            for r in carriers
            if self.versions[r].items[spec.key].get(item_id) is not None
        ]
        found = max(labelled, key=lambda entry: entry[:2])[2] if labelled else None
        return spec.label(item_id, found)
