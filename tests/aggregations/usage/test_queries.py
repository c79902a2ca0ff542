"""The usage searches cover a whole range per request and equal the oracle (04 §5).

A seeded random set of enriched views and downloads over five days (robots, events
at 23:59:59 and 00:00:00, two communities, list-valued fields) is indexed into the
enriched monthly indices; the expected numbers come from the usage oracle over the
same event dicts.
"""

import random
from datetime import date, datetime, timedelta

import pytest
from helpers.oracle.usage import UsageKey, usage_oracle, usage_subcounts_oracle
from invenio_search import current_search_client

from invenio_stats_dashboard.aggregations.subcounts import SourceField
from invenio_stats_dashboard.aggregations.usage.queries import day_items, day_totals
from invenio_stats_dashboard.search_indices.bulk import bulk_write
from invenio_stats_dashboard.usage_events.names import target_index

A, B = "c0ffee00-0000-4000-8000-0000000000a1", "c0ffee00-0000-4000-8000-0000000000b2"
FIRST, LAST = date(2025, 3, 1), date(2025, 3, 5)
FIELDS = {
    "resource_types": (
        "resource_type.id",
        "resource_type.title",
        UsageKey("resource_type.id", "title", object_label=True),
    ),
    "languages": (
        "languages.id",
        "languages.title",
        UsageKey("languages.id", "title", object_label=True),
    ),
    "countries": ("country", None, UsageKey("country")),
}


def random_events(rng, count, download):
    """Enriched events spread over the days, some on the day edges."""
    events = []
    for n in range(count):
        day = FIRST + timedelta(days=rng.randrange(5))
        edge = rng.random()
        if edge < 0.1:
            moment = datetime.combine(day, datetime.min.time())
        elif edge < 0.2:
            moment = datetime.combine(day, datetime.max.time()).replace(microsecond=0)
        else:
            moment = datetime.combine(day, datetime.min.time()) + timedelta(
                seconds=rng.randrange(86_400)
            )
        recid = f"r{rng.randrange(8)}"
        event = {
            "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S"),
            "recid": recid,
            "parent_recid": f"p{int(recid[1:]) // 2}",
            "visitor_id": f"v{rng.randrange(12)}",
            "unique_session_id": f"s{n}",
            "is_robot": rng.random() < 0.1,
            "is_machine": False,
            "country": rng.choice(["CH", "DE", "FR"]),
            "community_ids": rng.choice([[], [A], [B], [A, B]]),
            # labels change with the hour, so the newest event's label is testable
            # (events with equal timestamps carry equal labels)
            "resource_type": {
                "id": (kind := rng.choice(["dataset", "image", "software"])),
                "title": {"en": f"{kind} {moment.hour}"},
            },
            "languages": [
                {"id": code, "title": {"en": f"{code} {moment.hour}"}}
                for code in rng.sample(["eng", "deu", "fra"], rng.randrange(3))
            ],
        }
        if download:
            event.update(file_id=f"f{rng.randrange(6)}", size=rng.randrange(1, 5000))
        events.append(event)
    return events


@pytest.fixture()
def usage_events(running_app, clear_stats_indices, stats_dashboard):
    """Index 600 views and 400 downloads; return them as (views, downloads)."""
    rng = random.Random(20250301)
    views, downloads = random_events(rng, 600, False), random_events(rng, 400, True)
    for event_type, events in (("view", views), ("download", downloads)):
        index = target_index(event_type, "2025-03")
        actions = [
            {
                "_op_type": "index",
                "_index": index,
                "_id": f"{event_type}-{n}",
                "_source": e,
            }
            for n, e in enumerate(events)
        ]
        bulk_write(current_search_client, actions, refresh=True)
    return views, downloads


@pytest.mark.parametrize("scope", ["global", A, B])
def test_day_totals_equal_the_oracle(usage_events, scope):
    """One request per side gives every day's totals; quiet days are left out."""
    views, downloads = usage_events
    expected = usage_oracle(views, downloads, scope, FIRST, LAST)
    for side in ("view", "download"):
        found = day_totals(
            current_search_client,
            target_index(side, "2025-03"),
            scope,
            FIRST,
            LAST,
            download=side == "download",
        )
        assert found == {
            day: delta[side]
            for day, (delta, _) in expected.items()
            if delta[side]["total_events"]
        }


@pytest.mark.parametrize("scope", ["global", A])
def test_day_items_equal_the_oracle(usage_events, scope):
    """Every item of every day, list fields counted once per event and value.

    Each side's item carries its newest event's label; the newer of the two sides'
    labels is the oracle's (the newest counted event wins).
    """
    views, downloads = usage_events
    keys = {name: key for name, (_, _, key) in FIELDS.items()}
    expected = usage_subcounts_oracle(views, downloads, scope, FIRST, LAST, keys, 20)
    for name, (field, label_field, _) in FIELDS.items():
        found = {
            side: day_items(
                current_search_client,
                target_index(side, "2025-03"),
                scope,
                FIRST,
                LAST,
                [SourceField(field, label_field)],
                download=side == "download",
            )
            for side in ("view", "download")
        }
        for day, (delta, _) in expected.items():
            for side in ("view", "download"):
                wanted = {
                    item_id: item[side]
                    for item_id, item in delta[name].items()
                    if item[side]["total_events"]
                }
                got = {i: item.metrics for i, item in found[side].get(day, {}).items()}
                assert got == wanted, (name, side, day)
            for item_id, item in delta[name].items():
                sides = [found[s].get(day, {}).get(item_id) for s in found]
                newest = max((i for i in sides if i), key=lambda i: i.label_timestamp)
                label = newest.label if label_field else item_id
                assert label == item["label"], (name, day, item_id)


def test_a_day_with_more_than_ten_thousand_events_is_counted_exactly(
    running_app, clear_stats_indices, stats_dashboard
):
    """Must-not-repeat: no 10,000 ceiling; events at 23:59:59 stay on their day."""
    index = target_index("view", "2025-03")
    events = [
        {
            "timestamp": "2025-03-02T23:59:59" if n % 2 else "2025-03-03T00:00:00",
            "recid": f"r{n % 50}",
            "parent_recid": f"p{n % 25}",
            "visitor_id": f"v{n % 70}",
            "is_robot": False,
            "community_ids": [],
        }
        for n in range(20_002)
    ]
    bulk_write(
        current_search_client,
        [
            {"_op_type": "index", "_index": index, "_id": str(n), "_source": e}
            for n, e in enumerate(events)
        ],
        refresh=True,
    )
    found = day_totals(
        current_search_client, index, "global", FIRST, LAST, download=False
    )
    assert found[date(2025, 3, 2)] == {
        "total_events": 10_001,
        "unique_visitors": 35,  # odd n only: v1, v3, ..., v69
        "unique_records": 25,
        "unique_parents": 25,
    }
    assert found[date(2025, 3, 3)]["total_events"] == 10_001
    assert set(found) == {date(2025, 3, 2), date(2025, 3, 3)}


def test_distinct_count_sketches_follow_the_data():
    """A request never asks the node for more than the sketch budget.

    At the maximum threshold a sketch is 256 KB, so 1,000 items with four
    distinct counts would need 1 GB; with the busiest day's count as threshold
    (the same counts: no bucket has more distinct values than events) a quiet
    scope's page holds the full 1,000 items.
    """
    from invenio_stats_dashboard.aggregations.usage.queries import (
        CARDINALITY_BUDGET,
        MAX_PAGE,
        buckets_per_request,
        precision_threshold,
        sketch_bytes,
    )

    assert sketch_bytes(40_000) == 256 * 1024
    assert precision_threshold(120) == 120
    assert precision_threshold(10**6) == 40_000
    assert buckets_per_request(40_000, download=True) * 4 * 256 * 1024 <= (
        CARDINALITY_BUDGET
    )
    assert buckets_per_request(precision_threshold(500), download=True) >= MAX_PAGE
