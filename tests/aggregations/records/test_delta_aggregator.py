"""``community-records-delta-added-agg`` writes the oracle's deltas (04 §4.2).

Record versions and membership events are written straight to their indices; the
expected document of every scope and day comes from the records oracle, which
replays the same events over the same versions in plain Python.
"""

import random
from datetime import date, timedelta

import pytest
from helpers.oracle.membership import MembershipEvent
from helpers.oracle.records import Version
from helpers.records_expectations import expected_deltas, random_history
from helpers.records_expectations import stored_documents as stored
from helpers.records_fixtures import VERSIONS, C, D, at, fixture_f_events

from invenio_stats_dashboard.aggregations.base import RunOptions
from invenio_stats_dashboard.aggregations.records.delta_aggregator import (
    RecordsDeltaAggregator,
)

ALIAS = "stats-community-records-delta-added"


@pytest.mark.parametrize("scope", [C, "global"])
def test_fixture_f_deltas_equal_the_oracle(written, scope):
    """04 §13 test 1: every field of every day, community and global."""
    events = fixture_f_events()
    written(VERSIONS, events)
    report = RecordsDeltaAggregator().run_pass(scope, RunOptions(today=D[5]))

    expected = expected_deltas(VERSIONS, events, scope, D[5])
    assert stored(ALIAS, scope) == expected
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
    found = stored(ALIAS, C)
    assert found == expected_deltas(versions, events, C, today)
    day = found[f"{C}-{today.isoformat()}"]
    assert day["records"]["added"] == {"metadata_only": 0, "with_files": 1}
    assert day["records"]["removed"] == {"metadata_only": 1, "with_files": 0}
    june_day = found[f"{C}-{june.isoformat()}"]
    assert june_day["records"]["removed"] == {"metadata_only": 0, "with_files": 0}


@pytest.mark.parametrize("seed", [11])
def test_a_random_history_equals_the_oracle_for_every_scope(written, seed):
    """Adds, removes (same day too), deletions, new versions, restricted metadata.

    200 versions in 5 communities and global over 60 days (04 §13 test 25).

    Name-only funders that match an id funder's label merge into it.
    """
    rng = random.Random(seed)
    days = [date(2025, 4, 1) + timedelta(days=n) for n in range(60)]
    scopes = ["cA", "cB", "cC", "cD", "cE", "global"]  # 04 §13 test 25's shape
    versions, events = random_history(rng, days, scopes, count=200)
    # "funder one" merges into the version's own f1 item: it adds no item
    merged_names = {
        r: ["funder one"] for r, v in versions.items() if "f1" in v.values["funders"]
    }
    written(versions, events, merged_names)
    last = days[-1] + timedelta(days=4)
    for scope in scopes:
        report = RecordsDeltaAggregator().run_pass(scope, RunOptions(today=last))
        assert report.status == "completed", report.error
        assert stored(ALIAS, scope) == expected_deltas(versions, events, scope, last)
