"""``community-records-delta-added-agg`` writes the oracle's deltas (04 §4.2).

Record versions and membership events are written straight to their indices; the
expected document of every scope and day comes from the records oracle, which
replays the same events over the same versions in plain Python.
"""

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from helpers.oracle.membership import MembershipEvent
from helpers.oracle.records import Version, records_oracle
from helpers.records_fixtures import VERSIONS, C, D, at, fixture_f_events
from helpers.records_index import (
    delete_versions,
    expected_label,
    index_events,
    index_versions,
)
from invenio_search import current_search_client
from invenio_search.utils import prefix_index

from invenio_stats_dashboard.aggregations.base import RunOptions
from invenio_stats_dashboard.aggregations.records.delta_aggregator import (
    RecordsDeltaAggregator,
)

KEYS = [
    "resource_types",
    "access_statuses",
    "languages",
    "subjects",
    "rights",
    "funders",
    "periodicals",
    "publishers",
    "affiliations",
    "file_types",
]
"""The default records subcounts (07 §3.1)."""
ALIAS = "stats-community-records-delta-added"


@pytest.fixture()
def written(running_app, clear_stats_indices, stats_dashboard):
    """Write versions and events; delete the versions afterwards."""
    stats_dashboard.ensure_search_setup(force=True)
    created = []

    def write(versions, events, extra_funder_names=None):
        created.extend(index_versions(versions, extra_funder_names))
        index_events(events)

    yield write
    if created:
        delete_versions(created)


def expected_deltas(versions, events, scope, last):
    """Every day's delta document of the scope, from the oracle."""
    days = records_oracle(versions, events, scope, last, keys=KEYS)
    return {
        f"{scope}-{day.isoformat()}": {
            "community_id": scope,
            "period_start": f"{day.isoformat()}T00:00:00",
            "period_end": f"{day.isoformat()}T23:59:59",
            **{k: v for k, v in result.delta.items() if k != "subcounts"},
            "subcounts": {
                key: [
                    {**item, "label": expected_label(key, item["id"])}
                    for item in result.delta["subcounts"][key]
                ]
                for key in KEYS
            },
        }
        for day, result in days.items()
    }


def stored_deltas(scope):
    """Every stored records delta of the scope, by id, without the timestamps."""
    index = prefix_index(ALIAS)
    current_search_client.indices.refresh(index=index)
    hits = current_search_client.search(
        index=index,
        body={"query": {"term": {"community_id": scope}}, "size": 1000},
    )["hits"]["hits"]
    found = {}
    for hit in hits:
        source = dict(hit["_source"])
        assert source.pop("timestamp") == source.pop("updated_timestamp")
        found[hit["_id"]] = source
    return found


@pytest.mark.parametrize("scope", [C, "global"])
def test_fixture_f_deltas_equal_the_oracle(written, scope):
    """04 §13 test 1: every field of every day, community and global."""
    events = fixture_f_events()
    written(VERSIONS, events)
    report = RecordsDeltaAggregator().run_pass(scope, RunOptions(today=D[5]))

    expected = expected_deltas(VERSIONS, events, scope, D[5])
    assert stored_deltas(scope) == expected
    assert (report.first_day, report.last_day) == (D[0], D[5])
    d5 = expected[f"{scope}-{D[4].isoformat()}"]
    assert d5["records"]["removed"]["with_files"] == 1  # the chapter's own number
    assert d5["files"]["removed"] == {"file_count": 2, "data_volume": 1500}


def test_must_not_repeat_one_to_three(written):
    """Rows 1-3 of 04 §12: old record added today, removal only, remove then delete.

    v1 (created long ago) joins today; v2 leaves today (added 0, removed 1); v3
    is removed in May and deleted in June (June's delta is 0, never negative).
    """
    may, june = date(2025, 5, 10), date(2025, 6, 10)
    versions = {
        "old": Version("old", "p-old", "u1", (("x.pdf", 10),)),
        "leaving": Version("leaving", "p-leaving", "u2"),
        "gone": Version("gone", "p-gone", "u3"),
    }
    today = date(2025, 6, 20)
    events = [
        MembershipEvent("old", C, "added", at(today), at(today)),
        MembershipEvent("leaving", C, "added", at(may), at(may)),
        MembershipEvent("leaving", C, "removed", at(today, 12), at(today, 12)),
        MembershipEvent("gone", C, "added", at(may), at(may), at(june)),
        MembershipEvent("gone", C, "removed", at(may, 15), at(may, 15)),
    ]
    written(versions, events)
    RecordsDeltaAggregator().run_pass(C, RunOptions(today=today))
    stored = stored_deltas(C)
    assert stored == expected_deltas(versions, events, C, today)
    day = stored[f"{C}-{today.isoformat()}"]
    assert day["records"]["added"] == {"metadata_only": 0, "with_files": 1}
    assert day["records"]["removed"] == {"metadata_only": 1, "with_files": 0}
    june_day = stored[f"{C}-{june.isoformat()}"]
    assert june_day["records"]["removed"] == {"metadata_only": 0, "with_files": 0}


def random_history(rng, days, scopes, count=60):
    """Versions (some new versions of others) and their membership events."""
    versions, events = {}, []
    for n in range(count):
        parent = f"rp{n // 2}" if n % 3 else f"rp{n}"
        public = rng.random() > 0.15
        files = tuple(
            (f"f{n}-{k}.{rng.choice(['pdf', 'csv'])}", rng.randrange(1, 5000))
            for k in range(rng.choice([0, 0, 1, 2]))
        )
        values = {
            "resource_types": [rng.choice(["dataset", "image", "software"])],
            "access_statuses": [rng.choice(["open", "restricted", "embargoed"])],
            "languages": rng.sample(["eng", "fra"], rng.randrange(3)),
            "affiliations": rng.sample(["o1", "o2", "o3"], rng.randrange(3)),
            "funders": rng.sample(["f1", "f2", "Local Trust"], rng.randrange(3)),
            "publishers": [rng.choice(["Pub X", "Pub Y"])],
            "subjects": rng.sample(["physics", "biology"], rng.randrange(3)),
        }
        record_id = f"rv{n}"
        versions[record_id] = Version(
            record_id,
            parent,
            rng.choice(["u1", "u2", "u3", None]),
            files,
            public=public,
            values=values,
        )
        deleted = None
        if rng.random() < 0.15:
            deleted = datetime.combine(
                rng.choice(days), datetime.min.time(), tzinfo=UTC
            ) + timedelta(seconds=rng.randrange(86_400))
        for scope in rng.sample(scopes, rng.randrange(1, len(scopes) + 1)):
            joined = datetime.combine(
                rng.choice(days), datetime.min.time(), tzinfo=UTC
            ) + timedelta(seconds=rng.randrange(86_400))
            events.append(
                MembershipEvent(
                    record_id,
                    scope,
                    "added",
                    joined,
                    joined,
                    deleted if deleted and deleted > joined else None,
                )
            )
            if scope != "global" and rng.random() < 0.3:
                left = joined + timedelta(seconds=rng.randrange(0, 5 * 86_400))
                events.append(MembershipEvent(record_id, scope, "removed", left, left))
    return versions, events


@pytest.mark.parametrize("seed", [11])
def test_a_random_history_equals_the_oracle_for_every_scope(written, seed):
    """Adds, removes (same day too), deletions, new versions, restricted metadata.

    Name-only funders that match an id funder's label merge into it.
    """
    rng = random.Random(seed)
    days = [date(2025, 4, 1) + timedelta(days=n) for n in range(20)]
    scopes = ["cA", "cB", "global"]
    versions, events = random_history(rng, days, scopes)
    # "funder one" merges into the version's own f1 item: it adds no item
    merged_names = {
        r: ["funder one"] for r, v in versions.items() if "f1" in v.values["funders"]
    }
    written(versions, events, merged_names)
    last = days[-1] + timedelta(days=4)
    for scope in scopes:
        report = RecordsDeltaAggregator().run_pass(scope, RunOptions(today=last))
        assert report.status == "completed", report.error
        assert stored_deltas(scope) == expected_deltas(versions, events, scope, last)
