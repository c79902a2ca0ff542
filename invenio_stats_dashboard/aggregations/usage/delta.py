"""Usage delta documents of one scope over a range of days (04 §5.2, 01 §5.5).

Per side, one ``date_histogram`` of event counts, one with the distinct counts and
one paged composite aggregation per subcount field give every day's totals and
items; a side without events in the range asks nothing more after its counts.
Quiet days become zero documents here, never through per-day queries.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ...usage_events.names import read_alias
from ..days import day_end_label, day_start_label, days_between
from ..subcounts import SourceField, SubcountSpec
from .queries import (
    DayItem,
    day_counts,
    day_items,
    day_totals,
    keys_day_items,
    precision_threshold,
    zero_metrics,
)

SIDES = ("view", "download")


@dataclass
class UsageDeltaRange:
    """What the searches of one scope and range found, by day."""

    totals: dict[str, dict[date, dict[str, int]]] = field(default_factory=dict)
    items: dict[str, dict[date, dict[str, dict[str, DayItem]]]] = field(
        default_factory=dict
    )
    """``{key: {day: {item id: {side: DayItem}}}}``."""


def search_range(
    client, scope: str, first: date, last: date, specs: Sequence[SubcountSpec]
) -> UsageDeltaRange:
    """Run the range's searches: event counts first, the rest only where there are.

    The busiest day's count bounds the cardinality precision (see ``queries``).
    """
    found = UsageDeltaRange()
    thresholds, counts = {}, {}
    for side in SIDES:
        counts[side] = day_counts(client, read_alias(side), scope, first, last)
        found.totals[side] = {}
        if counts[side]:
            thresholds[side] = precision_threshold(max(counts[side].values()))
            found.totals[side] = day_totals(
                client,
                read_alias(side),
                scope,
                first,
                last,
                side == "download",
                thresholds[side],
            )
    for side, threshold in thresholds.items():
        found_items = _side_items(
            client, scope, first, last, specs, side, threshold, counts[side]
        )
        for spec in specs:
            _merge(found.items.setdefault(spec.key, {}), side, found_items[spec.key])
    for spec in specs:
        found.items.setdefault(spec.key, {})
    return found


def _side_items(
    client,
    scope: str,
    first: date,
    last: date,
    specs: Sequence[SubcountSpec],
    side: str,
    threshold: int,
    counts: dict[date, int],
) -> dict[str, dict[date, dict[str, DayItem]]]:
    """Return one side's items of every key, name-only entries included (04 §5.3).

    All keys share one request per page; a key with a name field (funders) adds
    one composite over events without any id, which needs its own query.
    """
    download = side == "download"
    items = keys_day_items(
        client,
        read_alias(side),
        scope,
        first,
        last,
        {spec.key: spec.fields for spec in specs},
        download,
        threshold=threshold,
        counts=counts,
    )
    for spec in specs:
        if not spec.name_field:
            continue
        named = day_items(
            client,
            read_alias(side),
            scope,
            first,
            last,
            [SourceField(spec.name_field)],
            download,
            without=[source.field for source in spec.fields],
            threshold=threshold,
            counts=counts,
        )
        for day, day_found in named.items():
            for item_id, item in day_found.items():
                items[spec.key].setdefault(day, {}).setdefault(item_id, item)
    return items


def _merge(
    by_day: dict[date, dict[str, dict[str, DayItem]]],
    side: str,
    found: dict[date, dict[str, DayItem]],
) -> None:
    for day, day_found in found.items():
        for item_id, item in day_found.items():
            by_day.setdefault(day, {}).setdefault(item_id, {})[side] = item


def delta_documents(
    scope: str,
    first: date,
    last: date,
    specs: Sequence[SubcountSpec],
    found: UsageDeltaRange,
    computed_at: str,
) -> Iterator[tuple[date, dict[str, Any]]]:
    """Yield one document per day from ``first`` to ``last``, quiet days included."""
    for day in days_between(first, last):
        yield (
            day,
            {
                "timestamp": computed_at,
                "community_id": scope,
                "period_start": day_start_label(day),
                "period_end": day_end_label(day),
                "totals": {
                    side: found.totals[side].get(day)
                    or zero_metrics(side == "download")
                    for side in SIDES
                },
                "subcounts": {
                    spec.key: [
                        _item_document(spec, item_id, sides)
                        for item_id, sides in sorted(
                            found.items[spec.key].get(day, {}).items()
                        )
                    ]
                    for spec in specs
                },
                "updated_timestamp": computed_at,
            },
        )


def _item_document(
    spec: SubcountSpec, item_id: str, sides: dict[str, DayItem]
) -> dict[str, Any]:
    """Return one item: both sides' metrics and the newest event's label (04 §6)."""
    labelled = [sides[side] for side in SIDES if side in sides]
    # the newest event's label wins; at the same second the download's (listed last)
    newest = max(reversed(labelled), key=lambda item: item.label_timestamp)
    return {
        "id": item_id,
        "label": spec.label(item_id, newest.label),
        **{
            side: dict(sides[side].metrics)
            if side in sides
            else zero_metrics(side == "download")
            for side in SIDES
        },
    }
