"""Seeded random sets of enriched usage events, and indexing them.

The events carry every field of the default usage subcounts, labels that change
with the hour (so "the newest event's label" is testable; events with equal
timestamps carry equal labels), robots, machines, events at 00:00:00 and 23:59:59,
and community lists with zero, one or two communities.
"""

from datetime import date, datetime, timedelta

from invenio_search import current_search_client

from helpers.oracle.usage import UsageKey
from invenio_stats_dashboard.search_indices.bulk import bulk_write
from invenio_stats_dashboard.usage_events.names import read_alias, target_index

DEFAULT_USAGE_KEYS = {
    "resource_types": UsageKey("resource_type.id", "title", object_label=True),
    "access_statuses": UsageKey("access_status"),
    "languages": UsageKey("languages.id", "title", object_label=True, snapshot="top"),
    "rights": UsageKey("rights.id", "title", object_label=True, snapshot="top"),
    "funders": UsageKey(
        "funders.id", "name", snapshot="top", name_fallback="funders.name"
    ),
    "periodicals": UsageKey("journal_title", snapshot="top"),
    "publishers": UsageKey("publisher", snapshot="top"),
    "affiliations": UsageKey("affiliations.id", "name", snapshot="top"),
    "countries": UsageKey("country", snapshot="top"),
    "file_types": UsageKey("file_types"),
}
"""The default usage subcounts (07 §3.1), as the oracle reads them."""


def _moment(rng, day):
    edge = rng.random()
    start = datetime.combine(day, datetime.min.time())
    if edge < 0.1:
        return start
    if edge < 0.2:
        return start + timedelta(days=1, seconds=-1)
    return start + timedelta(seconds=rng.randrange(86_400))


def _funders(rng, hour):
    funders = [
        {"id": fid, "name": f"Funder {fid} {hour}"}
        for fid in rng.sample(["f-nsf", "f-erc", "f-snsf"], rng.randrange(3))
    ]
    if not funders and rng.random() < 0.5:
        funders.append({"name": rng.choice(["Local Trust", "City Fund"])})
    return funders


def random_usage_events(rng, count, download, days, communities):
    """Return ``count`` enriched events on ``days`` (a list of dates)."""
    events = []
    for n in range(count):
        moment = _moment(rng, rng.choice(days))
        hour = moment.hour
        recid = f"r{rng.randrange(10)}"
        public = recid != "r9"  # r9 has restricted metadata: no metadata fields
        event = {
            "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S"),
            "recid": recid,
            "parent_recid": f"p{int(recid[1:]) // 2}",
            "visitor_id": f"v{rng.randrange(15)}",
            "unique_session_id": f"s{n}",
            "is_robot": rng.random() < 0.08,
            "is_machine": rng.random() < 0.08,
            "country": rng.choice(["CH", "DE", "FR", "US"]),
            "community_ids": rng.choice(
                [[], [communities[0]], [communities[1]], list(communities)]
            ),
            "access_status": rng.choice(["open", "restricted", "embargoed"]),
        }
        if public:
            kind = rng.choice(["dataset", "image", "software"])
            title = None if kind == "software" else {"en": f"{kind} {hour}"}
            event.update(
                resource_type={"id": kind, **({"title": title} if title else {})},
                languages=[
                    {"id": code, "title": {"en": f"{code} {hour}"}}
                    for code in rng.sample(["eng", "deu", "fra"], rng.randrange(3))
                ],
                rights=[{"id": "cc-by-4.0", "title": {"en": f"CC BY {hour}"}}]
                if rng.random() < 0.5
                else [],
                funders=_funders(rng, hour),
                journal_title=rng.choice(["Journal A", "Journal B", None]),
                publisher=rng.choice(["Pub X", "Pub Y"]),
                affiliations=[
                    {"id": aid, "name": f"Org {aid} {hour}"}
                    for aid in rng.sample(["o1", "o2", "o3", "o4"], rng.randrange(3))
                ],
                file_types=rng.sample(["pdf", "csv", "png"], rng.randrange(1, 3)),
            )
            if event["journal_title"] is None:
                del event["journal_title"]
        if download:
            event.update(file_id=f"file{rng.randrange(8)}", size=rng.randrange(1, 9000))
        events.append(event)
    return events


def index_usage_events(views, downloads):
    """Index the events into their migrated monthly indices, then refresh them."""
    for event_type, events in (("view", views), ("download", downloads)):
        actions = [
            {
                "_op_type": "index",
                "_index": target_index(event_type, event["timestamp"][:7]),
                "_id": f"{event_type}-{n}",
                "_source": event,
            }
            for n, event in enumerate(events)
        ]
        bulk_write(current_search_client, actions)
        current_search_client.indices.refresh(index=read_alias(event_type))


def days_from(first: date, count: int) -> list[date]:
    """Return ``count`` consecutive days from ``first``."""
    return [first + timedelta(days=n) for n in range(count)]
