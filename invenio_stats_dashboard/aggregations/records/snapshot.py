"""``community-records-snapshot-added-agg``: the scope at the end of each day (04 §4.4).

Record, parent and file totals are exact running sums of the deltas. The number
of uploaders is a distinct count of owners with a member version, kept up to date
from the owners whose versions joined or left during the pass. "all" keys hold
every item whose cumulative values are not all zero; "top" keys rank items by
cumulative records, chosen from the exhaustive per-item totals.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from ..base import PassContext
from ..days import day_start_label
from ..names import RECORDS_DELTA, RECORDS_SNAPSHOT
from ..snapshots import SnapshotAggregator, item_sums, latest_label, ranked
from ..subcounts import SubcountSpec, subcount_specs
from .delta import SPLITS
from .owners import OwnerTimeline

logger = logging.getLogger(__name__)

FILE_METRICS = ("file_count", "data_volume")
ITEM_PATHS = [
    *(
        f"{kind}.{side}.{split}"
        for kind in ("records", "parents")
        for side in ("added", "removed")
        for split in SPLITS
    ),
    *(
        f"files.{side}.{metric}"
        for side in ("added", "removed")
        for metric in FILE_METRICS
    ),
]
"""The delta item metrics whose sums give an item's cumulative values."""


def _zero_item() -> dict[str, Any]:
    return {
        "label": None,
        "records": dict.fromkeys(SPLITS, 0),
        "parents": dict.fromkeys(SPLITS, 0),
        "files": dict.fromkeys(FILE_METRICS, 0),
    }


def _zero_totals() -> dict[str, Any]:
    return {
        "total_records": dict.fromkeys(SPLITS, 0),
        "total_parents": dict.fromkeys(SPLITS, 0),
        "total_files": dict.fromkeys(FILE_METRICS, 0),
        "total_uploaders": 0,
    }


def _net(values: Mapping[str, Any], kind: str, name: str) -> int:
    """Return ``added − removed`` of one delta metric."""
    pair = values.get(kind) or {}
    return int((pair.get("added") or {}).get(name, 0)) - int(
        (pair.get("removed") or {}).get(name, 0)
    )


def _apply(target: dict[str, Any], delta: Mapping[str, Any]) -> None:
    """Add one delta's (or delta item's) net changes to cumulative values."""
    for split in SPLITS:
        target["records"][split] += _net(delta, "records", split)
        target["parents"][split] += _net(delta, "parents", split)
    for metric in FILE_METRICS:
        target["files"][metric] += _net(delta, "files", metric)


def _records(item: Mapping[str, Any]) -> int:
    return sum(item["records"].values())


@dataclass
class RecordsRunningState:
    """Cumulative totals and items at the end of the last day added."""

    scope: str
    specs: Sequence[SubcountSpec]
    limit: int
    owners: OwnerTimeline
    label_lookup: Any = None
    totals: dict[str, Any] = field(default_factory=_zero_totals)
    items: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    uploaders_base: int = 0
    """``total_uploaders`` of the base, minus the range owners represented then."""

    def add(self, day: date, delta: Mapping[str, Any]) -> None:
        """Add one day's delta document."""
        cumulative = {
            "records": self.totals["total_records"],
            "parents": self.totals["total_parents"],
            "files": self.totals["total_files"],
        }
        _apply(cumulative, delta)
        self.totals["total_uploaders"] = self.uploaders_base + len(
            self.owners.represented(day)
        )
        subcounts = delta.get("subcounts") or {}
        for spec in self.specs:
            items = self.items.setdefault(spec.key, {})
            for entry in subcounts.get(spec.key) or []:
                item = items.setdefault(entry["id"], _zero_item())
                _apply(item, entry)
                item["label"] = entry.get("label")
                if any(
                    v < 0
                    for part in ("records", "parents", "files")
                    for v in item[part].values()
                ):
                    logger.warning(
                        "negative item value (metadata drift): scope=%s day=%s "
                        "key=%s id=%s",
                        self.scope,
                        day.isoformat(),
                        spec.key,
                        entry["id"],
                    )

    def document(self, day: date, computed_at: str) -> dict[str, Any]:
        """Return the snapshot document of ``day``."""
        return {
            "timestamp": computed_at,
            "community_id": self.scope,
            "snapshot_date": day_start_label(day),
            **copy.deepcopy(self.totals),
            "subcounts": {spec.key: self._subcount(spec) for spec in self.specs},
            "updated_timestamp": computed_at,
        }

    def _subcount(self, spec: SubcountSpec) -> list[dict[str, Any]]:
        items = self.items.get(spec.key, {})
        if spec.snapshot_type == "top":
            chosen = ranked(items, _records, self.limit)
            for entry in chosen:
                if entry["label"] is None and self.label_lookup is not None:
                    entry["label"] = self.label_lookup(spec, entry["id"])
                entry["label"] = spec.label(entry["id"], entry["label"])
                items[entry["id"]]["label"] = entry["label"]
            return copy.deepcopy(chosen)
        return [
            copy.deepcopy({"id": item_id, **item})
            for item_id, item in sorted(items.items())
            if any(item["records"].values())
            or any(item["parents"].values())
            or any(item["files"].values())
        ]


class RecordsSnapshotAggregator(SnapshotAggregator):
    """Write one records snapshot document per scope and day."""

    name = RECORDS_SNAPSHOT
    delta_name = RECORDS_DELTA

    def start_state(
        self,
        client,
        context: PassContext,
        base_day: date | None,
        base: dict[str, Any] | None,
        days: tuple[date, date],
    ) -> RecordsRunningState:
        """Return the state of the base snapshot, or zeros without one."""
        scope = context.scope
        first, last = days
        owners = OwnerTimeline.read(
            client,
            scope,
            first,
            last,
            context.pages.next_size,
        )
        state = RecordsRunningState(
            scope,
            subcount_specs(self.config["COMMUNITY_STATS_SUBCOUNTS"], "records"),
            int(self.config["COMMUNITY_STATS_TOP_SUBCOUNT_LIMIT"]),
            owners,
            label_lookup=lambda spec, item_id: latest_label(
                client, self.delta_alias, scope, spec.key, item_id
            ),
        )
        represented_before = len(owners.represented(first - timedelta(days=1)))
        if base is None or base_day is None:
            state.uploaders_base = -represented_before
            return state
        for name in ("total_records", "total_parents", "total_files"):
            for metric, value in (base.get(name) or {}).items():
                state.totals[name][metric] = int(value or 0)
        state.uploaders_base = (
            int(base.get("total_uploaders") or 0) - represented_before
        )
        state.totals["total_uploaders"] = int(base.get("total_uploaders") or 0)
        subcounts = base.get("subcounts") or {}
        for spec in state.specs:
            items: dict[str, dict[str, Any]] = {}
            if spec.snapshot_type == "top":
                for item_id, sums in item_sums(
                    client, self.delta_alias, scope, spec.key, base_day, ITEM_PATHS
                ).items():
                    item = items.setdefault(item_id, _zero_item())
                    _apply(item, _unflatten(sums))
            for entry in subcounts.get(spec.key) or []:
                item = items.setdefault(entry["id"], _zero_item())
                item["label"] = entry.get("label")
                if spec.snapshot_type != "top":
                    for part in ("records", "parents", "files"):
                        for metric, value in (entry.get(part) or {}).items():
                            item[part][metric] = int(value or 0)
            state.items[spec.key] = items
        return state

    def next_document(
        self,
        state: RecordsRunningState,
        day: date,
        delta: dict[str, Any],
        context: PassContext,
    ) -> dict[str, Any]:
        """Add the day's delta and return its snapshot."""
        state.add(day, delta)
        return state.document(day, context.computed_at)


def _unflatten(sums: Mapping[str, int]) -> dict[str, Any]:
    """Turn ``{"records.added.with_files": n, ...}`` back into a delta item."""
    item: dict[str, Any] = {}
    for path, value in sums.items():
        kind, side, metric = path.split(".")
        item.setdefault(kind, {}).setdefault(side, {})[metric] = value
    return item
