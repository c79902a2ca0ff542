"""``community-usage-snapshot-agg``: cumulative usage per scope and day (04 §5.4).

Every metric is a running sum of the daily values since the scope start, the
``unique_*`` ones included (sums of daily distinct counts: visitor ids are
re-salted daily, so nothing longer can be distinct). "all" keys list every item
ever seen; "top" keys rank items by cumulative ``total_events`` per side, chosen
from the exhaustive per-item totals, which for the days before the pass come from
one paged aggregation over the delta documents.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..base import PassContext
from ..days import day_start_label
from ..names import USAGE_DELTA, USAGE_SNAPSHOT
from ..snapshots import SnapshotAggregator, item_sums, latest_label, ranked
from ..subcounts import SubcountSpec, subcount_specs
from .queries import zero_metrics

SIDES = ("view", "download")
METRICS = {side: list(zero_metrics(side == "download")) for side in SIDES}


def _zero_item() -> dict[str, Any]:
    return {"label": None, **{side: zero_metrics(side == "download") for side in SIDES}}


def _add(target: dict[str, int], values: Mapping[str, Any]) -> None:
    for name, value in values.items():
        target[name] = target.get(name, 0) + int(value or 0)


@dataclass
class UsageRunningState:
    """Cumulative totals and items at the end of the last day added."""

    specs: Sequence[SubcountSpec]
    limit: int
    label_lookup: Any = None
    """``(key, item id) -> label``: the latest delta label of an item (rarely needed)."""
    totals: dict[str, dict[str, int]] = field(
        default_factory=lambda: {
            side: zero_metrics(side == "download") for side in SIDES
        }
    )
    items: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def add(self, delta: Mapping[str, Any]) -> None:
        """Add one day's delta document."""
        for side in SIDES:
            _add(self.totals[side], (delta.get("totals") or {}).get(side) or {})
        subcounts = delta.get("subcounts") or {}
        for spec in self.specs:
            items = self.items.setdefault(spec.key, {})
            for entry in subcounts.get(spec.key) or []:
                item = items.setdefault(entry["id"], _zero_item())
                for side in SIDES:
                    _add(item[side], entry.get(side) or {})
                item["label"] = entry.get("label")

    def document(self, scope: str, day: date, computed_at: str) -> dict[str, Any]:
        """Return the snapshot document of ``day``."""
        return {
            "timestamp": computed_at,
            "community_id": scope,
            "snapshot_date": day_start_label(day),
            "totals": copy.deepcopy(self.totals),
            "subcounts": {spec.key: self._subcount(spec) for spec in self.specs},
            "updated_timestamp": computed_at,
        }

    def _subcount(self, spec: SubcountSpec) -> Any:
        items = self.items.get(spec.key, {})
        if spec.snapshot_type != "top":
            return [
                copy.deepcopy({"id": item_id, **item})
                for item_id, item in sorted(items.items())
            ]
        chosen = {
            f"by_{side}": ranked(
                items, lambda item, side=side: item[side]["total_events"], self.limit
            )
            for side in SIDES
        }
        for entries in chosen.values():
            for entry in entries:
                if entry["label"] is None:
                    label = (
                        self.label_lookup(spec, entry["id"])
                        if self.label_lookup
                        else None
                    )
                    items[entry["id"]]["label"] = entry["label"] = spec.label(
                        entry["id"], label
                    )
        return copy.deepcopy(chosen)


class UsageSnapshotAggregator(SnapshotAggregator):
    """Write one usage snapshot document per scope and day."""

    name = USAGE_SNAPSHOT
    delta_name = USAGE_DELTA

    def _specs(self) -> list[SubcountSpec]:
        return subcount_specs(self.config["COMMUNITY_STATS_SUBCOUNTS"], "usage_events")

    def start_state(
        self,
        client,
        context: PassContext,
        base_day: date | None,
        base: dict[str, Any] | None,
        days: tuple[date, date],
    ) -> UsageRunningState:
        """Return the state of the base snapshot, or zeros without one."""
        scope = context.scope
        state = UsageRunningState(
            self._specs(),
            int(self.config["COMMUNITY_STATS_TOP_SUBCOUNT_LIMIT"]),
            label_lookup=lambda spec, item_id: self._latest_label(
                client, scope, spec.key, item_id
            ),
        )
        if base is None or base_day is None:
            return state
        for side in SIDES:
            _add(state.totals[side], (base.get("totals") or {}).get(side) or {})
        subcounts = base.get("subcounts") or {}
        for spec in state.specs:
            if spec.snapshot_type == "top":
                state.items[spec.key] = self._totals_before(
                    client, scope, spec.key, base_day
                )
                stored = subcounts.get(spec.key) or {}
                listed = [*stored.get("by_view", []), *stored.get("by_download", [])]
            else:
                state.items[spec.key] = {}
                listed = subcounts.get(spec.key) or []
            for entry in listed:
                item = state.items[spec.key].setdefault(entry["id"], _zero_item())
                item["label"] = entry.get("label")
                if spec.snapshot_type != "top":
                    for side in SIDES:
                        _add(item[side], entry.get(side) or {})
        return state

    def next_document(
        self,
        state: UsageRunningState,
        day: date,
        delta: dict[str, Any],
        context: PassContext,
    ) -> dict[str, Any]:
        """Add the day's delta and return its snapshot."""
        state.add(delta)
        return state.document(context.scope, day, context.computed_at)

    def _totals_before(
        self, client, scope: str, key: str, last: date
    ) -> dict[str, dict[str, Any]]:
        """Return each item's cumulative metrics over the deltas up to ``last``."""
        paths = [f"{side}.{metric}" for side in SIDES for metric in METRICS[side]]
        items: dict[str, dict[str, Any]] = {}
        for item_id, sums in item_sums(
            client, self.delta_alias, scope, key, last, paths
        ).items():
            item = items.setdefault(item_id, _zero_item())
            for path, value in sums.items():
                side, metric = path.split(".")
                item[side][metric] = value
        return items

    def _latest_label(self, client, scope: str, key: str, item_id: str) -> Any:
        """Return the label of an item in its latest delta document, or None."""
        return latest_label(client, self.delta_alias, scope, key, item_id)
