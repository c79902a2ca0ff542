"""Usage delta and snapshot totals of every scope and day, from raw events (04 §5).

Subcount items are not covered yet; every total of 01 §5.5 and §5.6 is. Distinct
counts here are exact sets; the aggregators' cardinality aggregation is near-exact
below its threshold, which the small fixtures of the tests stay under.
"""

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
