"""Records deltas and snapshots of every scope and day, from raw inputs (04 §4).

Every total of 01 §5.3 and §5.4, and the subcount items of keys whose values the
test gives per version (plus ``file_types``, from the file names), with the
public-metadata rule. Labels and the "top" ranking are not covered yet.
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
    public: bool = True
    """``access.record`` is ``public`` (01 §5.9)."""
    values: dict = field(default_factory=dict)
    """Subcount key → the item ids this version carries."""

    def item_ids(self, key):
        """Ids of ``key`` this version adds to (none from restricted metadata)."""
        if key == "file_types":
            found = {_ext(name) for name, _ in self.files} if self.public else set()
        elif key == "access_statuses" or self.public:
            found = set(self.values.get(key, ()))
        else:
            found = set()
        return found - {None}

    def files_for(self, key, item):
        """Files an item counts: only its own extension for ``file_types``."""
        if key == "file_types":
            return [f for f in self.files if _ext(f[0]) == item]
        return list(self.files)

    @property
    def split(self):
        """``with_files`` when ``files.enabled``, else ``metadata_only``."""
        enabled = bool(self.files) if self.files_enabled is None else self.files_enabled
        return "with_files" if enabled else "metadata_only"


def _ext(name):
    suffix = name.rsplit(".", 1)
    return suffix[1].lower() if len(suffix) == 2 else None


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


def _changes(before, after, versions):
    """Records and parents added / removed per split between two member sets."""
    records, parents = _zero_pair(), _zero_pair()
    for record_id in after - before:
        records["added"][versions[record_id].split] += 1
    for record_id in before - after:
        records["removed"][versions[record_id].split] += 1
    old, new = _parent_splits(before, versions), _parent_splits(after, versions)
    for parent in old.keys() | new.keys():
        if old.get(parent) != new.get(parent):
            if parent in new:
                parents["added"][new[parent]] += 1
            if parent in old:
                parents["removed"][old[parent]] += 1
    return records, parents


def _totals(members, versions):
    """Member versions and represented parents per split."""
    records, parents = dict.fromkeys(SPLITS, 0), dict.fromkeys(SPLITS, 0)
    for record_id in members:
        records[versions[record_id].split] += 1
    for split in _parent_splits(members, versions).values():
        parents[split] += 1
    return records, parents


def _items(key, before, after, versions):
    """Delta and snapshot items of one subcount key for one day."""
    carried = {}
    for record_id in before | after:
        for item in versions[record_id].item_ids(key):
            carried.setdefault(item, set()).add(record_id)
    delta_items, snapshot_items = [], []
    for item in sorted(carried):
        carriers = carried[item]
        was, now = before & carriers, after & carriers
        added, removed = now - was, was - now
        records, parents = _changes(was, now, versions)

        def files(ids, item=item):
            found = [f for r in ids for f in versions[r].files_for(key, item)]
            return {"file_count": len(found), "data_volume": sum(s for _, s in found)}

        if added or removed:
            delta_items.append(
                {
                    "id": item,
                    "records": records,
                    "parents": parents,
                    "files": {"added": files(added), "removed": files(removed)},
                }
            )
        totals, parent_totals = _totals(now, versions)
        snapshot = {
            "id": item,
            "records": totals,
            "parents": parent_totals,
            "files": files(now),
        }
        if any(totals.values()) or any(snapshot["files"].values()):
            snapshot_items.append(snapshot)
    return delta_items, snapshot_items


def top_items(items, limit):
    """Rank snapshot items for a ``top`` subcount (04 §4.4).

    By cumulative ``metadata_only + with_files`` records, descending, ties by id;
    items without records left out; at most ``limit``.
    """

    def records(item):
        return item["records"]["metadata_only"] + item["records"]["with_files"]

    ranked = sorted(
        (i for i in items if records(i) > 0), key=lambda i: (-records(i), i["id"])
    )
    return ranked[:limit]


def records_oracle(versions, events, scope, last_day, keys=(), top=None):
    """Return ``{day: ScopeDay}`` for ``scope`` from its start to ``last_day``.

    ``keys`` names the subcounts whose items are computed: "all" snapshots, or
    ``top`` ones for the keys of ``top`` (key → limit).
    """
    top = top or {}
    memberships = Memberships(events)
    first = memberships.first_day.get(scope)
    result = {}
    if first is None:
        return result
    before: set[str] = set()
    for day in days(first, last_day):
        after = memberships.members_at_end_of(scope, day)
        added, removed = after - before, before - after
        records, parents = _changes(before, after, versions)
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
        total_records, total_parents = _totals(after, versions)
        file_count, data_volume = _file_totals(after, versions)
        snapshot = {
            "total_records": total_records,
            "total_parents": total_parents,
            "total_files": {"file_count": file_count, "data_volume": data_volume},
            "total_uploaders": len({versions[r].owner for r in after} - {None}),
        }
        if keys:
            delta["subcounts"], snapshot["subcounts"] = {}, {}
            for key in keys:
                delta_items, snapshot_items = _items(key, before, after, versions)
                if key in top:
                    snapshot_items = top_items(snapshot_items, top[key])
                delta["subcounts"][key] = delta_items
                snapshot["subcounts"][key] = snapshot_items
        result[day] = ScopeDay(delta=delta, snapshot=snapshot)
        before = after
    return result
