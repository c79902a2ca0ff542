"""Usage deltas and snapshots of every scope and day, from raw events (04 §5, §6).

Totals of 01 §5.5 and §5.6, and subcount items with their labels, cumulative
"all" lists and "top" rankings. Distinct counts here are exact sets; the
aggregators' cardinality aggregation is near-exact below its threshold, which the
small fixtures of the tests stay under.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime

from .membership import days

VIEW_METRICS = ("total_events", "unique_visitors", "unique_records", "unique_parents")
DOWNLOAD_METRICS = (*VIEW_METRICS, "unique_files", "total_volume")


def event_day(event) -> date:
    """UTC day of a stored event (its ``timestamp`` has no offset and is UTC)."""
    moment = datetime.fromisoformat(event["timestamp"])
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date()


def in_scope(event, scope) -> bool:
    """``global`` takes every event; a community those enriched with it."""
    return scope == "global" or scope in (event.get("community_ids") or [])


def _side_totals(events, download):
    counted = [e for e in events if not e.get("is_robot")]
    totals = {
        "total_events": len(counted),
        "unique_visitors": len({e["visitor_id"] for e in counted}),
        "unique_records": len({e["recid"] for e in counted}),
        "unique_parents": len({e["parent_recid"] for e in counted}),
    }
    if download:
        totals["unique_files"] = len({e["file_id"] for e in counted})
        totals["total_volume"] = sum(int(e.get("size") or 0) for e in counted)
    return totals


def usage_oracle(views, downloads, scope, first_day, last_day):
    """Return ``{day: (delta totals, snapshot totals)}`` from ``first_day`` on.

    ``views`` and ``downloads`` are the ``_source`` dicts the test indexed.
    """
    by_day = {}
    for name, events in (("view", views), ("download", downloads)):
        for event in events:
            if in_scope(event, scope):
                by_day.setdefault((name, event_day(event)), []).append(event)
    running = {
        "view": dict.fromkeys(VIEW_METRICS, 0),
        "download": dict.fromkeys(DOWNLOAD_METRICS, 0),
    }
    result = {}
    for day in days(first_day, last_day):
        delta = {
            name: _side_totals(by_day.get((name, day), []), name == "download")
            for name in ("view", "download")
        }
        for name, metrics in delta.items():
            for metric, value in metrics.items():
                running[name][metric] += value
        snapshot = {name: dict(values) for name, values in running.items()}
        result[day] = (delta, snapshot)
    return result


@dataclass(frozen=True)
class UsageKey:
    """How one subcount reads events: the id path, the label path, its snapshot.

    ``field`` is a dotted path whose lists are walked (``funders.id``); ``label``
    is the path of the label inside the same entry (``title``, ``name``) or None
    (the label is the id). ``object_label`` marks keys whose label is an object,
    whose missing label becomes ``{"en": id}``. ``name_fallback`` is the entry
    path counted when an event carries no id at all (``funders.name``).
    """

    field: str
    label: str | None = None
    object_label: bool = False
    snapshot: str = "all"
    name_fallback: str | None = None


def _walk(value, parts):
    """Yield the values at ``parts`` below ``value``, walking lists."""
    if isinstance(value, list):
        for item in value:
            yield from _walk(item, parts)
        return
    if not parts:
        if value is not None:
            yield value
        return
    if isinstance(value, dict):
        yield from _walk(value.get(parts[0]), parts[1:])


def _entries(event, path):
    """Yield (entry, id) for each entry of ``path``'s container that has an id.

    A leaf holding a list of plain values (``file_types``) yields each value.
    """
    *container, leaf = path.split(".")
    for entry in _walk(event, container) if container else [event]:
        if not isinstance(entry, dict):
            continue
        value = entry.get(leaf)
        for item in value if isinstance(value, list) else [value]:
            if item not in (None, ""):
                yield entry, str(item)


def event_items(event, key: UsageKey):
    """Return ``{item id: label or None}`` of one event for one key."""
    found = {}
    for entry, item_id in _entries(event, key.field):
        label = entry.get(key.label) if key.label else None
        found.setdefault(item_id, label)
    if not found and key.name_fallback:
        for _entry, item_id in _entries(event, key.name_fallback):
            found.setdefault(item_id, None)
    return found


def _timestamp(event):
    return event["timestamp"]


def _label(key: UsageKey, item_id, label):
    if key.label is None:
        return item_id
    if label is None:
        return {"en": item_id} if key.object_label else item_id
    return label


def _item_totals(events, item_id, key, download):
    chosen = [e for e in events if item_id in event_items(e, key)]
    return _side_totals(chosen, download)


def usage_subcounts_oracle(
    views, downloads, scope, first_day, last_day, keys, top_limit
):
    """Return ``{day: (delta subcounts, snapshot subcounts)}`` for ``keys``.

    Delta subcounts: ``{key: {item id: {label, view, download}}}`` for every value
    seen that day. Snapshot subcounts: for an ``all`` key every item ever seen
    with cumulative metrics and its latest label; for a ``top`` key
    ``{by_view: [...], by_download: [...]}`` of items ranked by cumulative
    ``total_events`` (ties by id), zero items left out, at most ``top_limit``.
    """
    counted = {
        name: [e for e in events if in_scope(e, scope) and not e.get("is_robot")]
        for name, events in (("view", views), ("download", downloads))
    }
    running = {name: {} for name in keys}
    labels = {name: {} for name in keys}
    result = {}
    for day in days(first_day, last_day):
        today = {
            name: sorted(
                (e for e in counted[name] if event_day(e) == day),
                key=_timestamp,
            )
            for name in ("view", "download")
        }
        delta = {}
        for name, key in keys.items():
            items = {}
            both = sorted(today["view"] + today["download"], key=_timestamp)
            for event in both:  # oldest first: the newest event's label wins
                for item_id, label in event_items(event, key).items():
                    items[item_id] = _label(key, item_id, label)
            delta[name] = {
                item_id: {
                    "label": label,
                    "view": _item_totals(today["view"], item_id, key, False),
                    "download": _item_totals(today["download"], item_id, key, True),
                }
                for item_id, label in items.items()
            }
            for item_id, item in delta[name].items():
                labels[name][item_id] = item["label"]
                cumulative = running[name].setdefault(
                    item_id,
                    {
                        "view": dict.fromkeys(VIEW_METRICS, 0),
                        "download": dict.fromkeys(DOWNLOAD_METRICS, 0),
                    },
                )
                for side in ("view", "download"):
                    for metric, value in item[side].items():
                        cumulative[side][metric] += value
        snapshot = {
            name: _snapshot(key, running[name], labels[name], top_limit)
            for name, key in keys.items()
        }
        result[day] = (delta, snapshot)
    return result


def _snapshot(key, running, labels, top_limit):
    items = {
        item_id: {
            "label": labels[item_id],
            "view": dict(metrics["view"]),
            "download": dict(metrics["download"]),
        }
        for item_id, metrics in running.items()
    }
    if key.snapshot != "top":
        return items

    def ranked(side):
        chosen = [i for i in items if items[i][side]["total_events"] > 0]
        chosen.sort(key=lambda i: (-items[i][side]["total_events"], i))
        return [{"id": i, **items[i]} for i in chosen[:top_limit]]

    return {"by_view": ranked("view"), "by_download": ranked("download")}
