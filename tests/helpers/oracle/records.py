"""Records delta and snapshot totals of every scope and day, from raw inputs (04 §4).

Subcount items are not covered yet; every total of 01 §5.3 and §5.4 is.
"""

from dataclasses import dataclass, field

from .membership import Memberships, days

SPLITS = ("metadata_only", "with_files")


@dataclass(frozen=True)
class Version:
    """What the oracle needs of one record version."""

    record_id: str
    parent_id: str
    owner: str | None
    files: tuple[tuple[str, int], ...] = ()
    """``(key, size)`` of each file; a version with files has ``files.enabled``."""
    files_enabled: bool | None = None

    @property
    def split(self):
        """``with_files`` when ``files.enabled``, else ``metadata_only``."""
        enabled = bool(self.files) if self.files_enabled is None else self.files_enabled
        return "with_files" if enabled else "metadata_only"


@dataclass
class ScopeDay:
    """Delta and snapshot totals of one scope on one day."""

    delta: dict = field(default_factory=dict)
    snapshot: dict = field(default_factory=dict)


def _zero_pair():
    return {"added": dict.fromkeys(SPLITS, 0), "removed": dict.fromkeys(SPLITS, 0)}


def _parent_splits(members, versions):
    """Split of every represented parent: with files if any member version has them."""
    splits = {}
    for record_id in members:
        version = versions[record_id]
        if splits.get(version.parent_id) != "with_files":
            splits[version.parent_id] = version.split
    return splits


def _file_totals(record_ids, versions):
    files = [f for r in record_ids for f in versions[r].files]
    return len(files), sum(size for _, size in files)


def records_oracle(versions, events, scope, last_day):
    """Return ``{day: ScopeDay}`` for ``scope`` from its start to ``last_day``."""
    memberships = Memberships(events)
    first = memberships.first_day.get(scope)
    result = {}
    if first is None:
        return result
    before: set[str] = set()
    for day in days(first, last_day):
        after = memberships.members_at_end_of(scope, day)
        added, removed = after - before, before - after
        records = _zero_pair()
        for record_id in added:
            records["added"][versions[record_id].split] += 1
        for record_id in removed:
            records["removed"][versions[record_id].split] += 1
        parents = _zero_pair()
        old, new = _parent_splits(before, versions), _parent_splits(after, versions)
        for parent in old.keys() | new.keys():
            if old.get(parent) != new.get(parent):
                if parent in new:
                    parents["added"][new[parent]] += 1
                if parent in old:
                    parents["removed"][old[parent]] += 1
        added_files, removed_files = (
            _file_totals(added, versions),
            _file_totals(removed, versions),
        )
        owners = {versions[r].owner for r in added} - {None}
        delta = {
            "records": records,
            "parents": parents,
            "files": {
                "added": {
                    "file_count": added_files[0],
                    "data_volume": added_files[1],
                },
                "removed": {
                    "file_count": removed_files[0],
                    "data_volume": removed_files[1],
                },
            },
            "uploaders": len(owners),
        }
        total_records = dict.fromkeys(SPLITS, 0)
        for record_id in after:
            total_records[versions[record_id].split] += 1
        total_parents = dict.fromkeys(SPLITS, 0)
        for split in new.values():
            total_parents[split] += 1
        file_count, data_volume = _file_totals(after, versions)
        snapshot = {
            "total_records": total_records,
            "total_parents": total_parents,
            "total_files": {"file_count": file_count, "data_volume": data_volume},
            "total_uploaders": len({versions[r].owner for r in after} - {None}),
        }
        result[day] = ScopeDay(delta=delta, snapshot=snapshot)
        before = after
    return result
