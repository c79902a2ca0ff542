"""``community-records-snapshot-added-agg`` equals the oracle's snapshots (04 §4.4).

Totals are running sums of the deltas; ``total_uploaders`` is a distinct count of
owners with a member version; "all" lists drop items that return to zero; "top"
lists rank by cumulative records with ties by id. A top limit of 2 makes the
rankings choose.
"""

import random
from datetime import date, timedelta

import pytest
from flask import current_app
from helpers.oracle.membership import MembershipEvent
from helpers.oracle.records import Version
from helpers.records_expectations import (
    expected_snapshots,
    random_history,
    stored_documents,
)
from helpers.records_fixtures import VERSIONS, C, D, at, fixture_f_events

from invenio_stats_dashboard.aggregations.base import RunOptions
from invenio_stats_dashboard.aggregations.records.delta_aggregator import (
    RecordsDeltaAggregator,
)
from invenio_stats_dashboard.aggregations.records.snapshot import (
    RecordsSnapshotAggregator,
)

ALIAS = "stats-community-records-snapshot-added"
TOP = 2


def aggregators(interval=365):
    """The delta and snapshot aggregators with top limit 2 and ``interval``."""
    config = {
        **current_app.config,
        "COMMUNITY_STATS_TOP_SUBCOUNT_LIMIT": TOP,
        "COMMUNITY_STATS_CATCHUP_INTERVAL": interval,
    }
    return RecordsDeltaAggregator(config=config), RecordsSnapshotAggregator(
        config=config
    )


def run(scope, today, interval=365):
    """Run delta and snapshot passes until the snapshot reaches ``today``."""
    delta, snapshot = aggregators(interval)
    for _ in range(40):
        delta.run_pass(scope, RunOptions(today=today))
        report = snapshot.run_pass(scope, RunOptions(today=today))
        assert report.status in ("completed", "nothing to do"), report.error
        if report.bookmark_after == today:
            return report
    raise AssertionError("the snapshot never caught up")


@pytest.mark.parametrize("scope", [C, "global"])
def test_fixture_f_snapshots_equal_the_oracle(written, scope):
    """04 §13 fixture F: D6 holds 2 with-files records, 1 parent, 2 files / 4000."""
    events = fixture_f_events()
    written(VERSIONS, events)
    run(scope, D[5])
    stored = stored_documents(ALIAS, scope)
    assert stored == expected_snapshots(VERSIONS, events, scope, D[5], TOP)
    last = stored[f"{scope}-{D[5].isoformat()}"]
    assert last["total_records"]["with_files"] == 2
    assert last["total_files"] == {"file_count": 2, "data_volume": 4000}
    assert last["total_uploaders"] == (1 if scope == C else 2)
    assert [i["id"] for i in last["subcounts"]["file_types"]] == ["pdf"]


def test_one_owner_on_two_days_is_one_uploader(written):
    """Must-not-repeat 8: ``total_uploaders`` is distinct, not a sum of days."""
    versions = {
        "u-a": Version("u-a", "p-a", "solo"),
        "u-b": Version("u-b", "p-b", "solo"),
    }
    events = [
        MembershipEvent("u-a", C, "added", at(D[0]), at(D[0])),
        MembershipEvent("u-b", C, "added", at(D[1]), at(D[1])),
        MembershipEvent("u-a", C, "removed", at(D[2]), at(D[2])),
        MembershipEvent("u-b", C, "removed", at(D[3]), at(D[3])),
    ]
    written(versions, events)
    run(C, D[4])
    stored = stored_documents(ALIAS, C)
    assert stored == expected_snapshots(versions, events, C, D[4], TOP)
    assert [stored[f"{C}-{d.isoformat()}"]["total_uploaders"] for d in D[:5]] == [
        1,
        1,
        1,
        0,
        0,
    ]


@pytest.mark.parametrize("interval", [365, 4])
def test_a_random_history_equals_the_oracle_for_every_scope(written, interval):
    """Every snapshot of every scope, in one catch-up or in passes of 4 days.

    Passes of 4 days start from the stored snapshot, so "top" keys need the
    per-item totals before the pass from the delta documents.
    """
    rng = random.Random(23)
    days = [date(2025, 4, 1) + timedelta(days=n) for n in range(20)]
    scopes = ["cA", "global"]
    versions, events = random_history(rng, days, scopes)
    written(versions, events)
    last = days[-1] + timedelta(days=3)
    for scope in scopes:
        run(scope, last, interval)
        assert stored_documents(ALIAS, scope) == expected_snapshots(
            versions, events, scope, last, TOP
        )


def test_a_caught_up_pass_costs_a_bounded_number_of_searches(written):
    """04 §14: with nothing changed, a records delta pass costs 2 searches (the
    rewind check and the touched query) and a snapshot pass at most 3 reads plus
    one per "top" key page, whatever the length of the history.
    """
    events = fixture_f_events()
    written(VERSIONS, events)
    today = D[5] + timedelta(days=400)  # a long history of quiet days
    run(C, today)
    delta, snapshot = aggregators()
    again = delta.run_pass(C, RunOptions(today=today))
    assert (again.status, again.searches) == ("completed", 2)
    top_keys = sum(
        1
        for key in current_app.config["COMMUNITY_STATS_SUBCOUNTS"].values()
        if (key.get("records") or {}).get("snapshot_type") == "top"
    )
    report = snapshot.run_pass(C, RunOptions(today=today))
    assert report.status == "completed"
    assert report.searches <= 3 + top_keys, report.searches
