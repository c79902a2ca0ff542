"""``community-usage-snapshot-agg`` accumulates the deltas as the oracle does (04 §5.4).

The expected snapshots come from the usage oracle over the indexed event dicts:
running sums of every total (``unique_*`` as sums of daily distinct counts),
"all" keys with every item ever seen and its latest label, "top" keys ranked per
side with ties by id. A top limit of 3 makes the rankings choose.
"""

import random
from datetime import date, timedelta

import pytest
from flask import current_app
from helpers.usage_event_sets import random_usage_events
from helpers.usage_expectations import (
    DELTA_ALIAS,
    SNAPSHOT_ALIAS,
    TODAY,
    A,
    expected_deltas,
    expected_snapshots,
    index_usage_events,
    stored_documents,
)
from invenio_search import current_search_client
from invenio_search.utils import prefix_index

from invenio_stats_dashboard.aggregations.base import RunOptions
from invenio_stats_dashboard.aggregations.bookmarks import BookmarkStore
from invenio_stats_dashboard.aggregations.usage.delta_aggregator import (
    UsageDeltaAggregator,
)
from invenio_stats_dashboard.aggregations.usage.snapshot import (
    UsageSnapshotAggregator,
)

DELTA, SNAPSHOT = "community-usage-delta-agg", "community-usage-snapshot-agg"
TOP = 3


def aggregators(interval=365):
    """The delta and snapshot aggregators with top limit 3 and ``interval``."""
    config = {
        **current_app.config,
        "COMMUNITY_STATS_TOP_SUBCOUNT_LIMIT": TOP,
        "COMMUNITY_STATS_CATCHUP_INTERVAL": interval,
        "COMMUNITY_STATS_DELTA_BUFFER_SIZE": 4,  # several pages of deltas
    }
    return UsageDeltaAggregator(config=config), UsageSnapshotAggregator(config=config)


@pytest.mark.parametrize("scope", ["global", A])
def test_every_snapshot_equals_the_oracle(usage_events, scope):
    """One catch-up: every day's totals, "all" lists and "top" rankings."""
    views, downloads = usage_events
    delta, snapshot = aggregators()
    delta.run_pass(scope, RunOptions(today=TODAY))
    report = snapshot.run_pass(scope, RunOptions(today=TODAY))

    expected = expected_snapshots(views, downloads, scope, TODAY, TOP)
    assert stored_documents(SNAPSHOT_ALIAS, scope) == expected
    assert (report.status, report.documents) == ("completed", len(expected))
    top = expected[f"{scope}-{TODAY.isoformat()}"]["subcounts"]["countries"]
    assert len(top["by_view"]) == TOP  # four countries: the ranking chose


def test_passes_in_steps_continue_from_the_stored_snapshot(usage_events):
    """Interval 3: each snapshot pass starts from the previous day's snapshot.

    "top" keys then need the per-item totals before the pass, read from the
    delta documents; the result equals one catch-up.
    """
    views, downloads = usage_events
    delta, snapshot = aggregators(interval=3)
    for _ in range(6):
        delta.run_pass("global", RunOptions(today=TODAY))
        report = snapshot.run_pass("global", RunOptions(today=TODAY))
        if report.last_day == TODAY:
            break
    assert report.last_day == TODAY
    expected = expected_snapshots(views, downloads, "global", TODAY, TOP)
    assert stored_documents(SNAPSHOT_ALIAS, "global") == expected


def test_a_snapshot_never_outruns_its_delta(usage_events):
    """The pass stops at the delta's bookmark."""
    views, downloads = usage_events
    delta, snapshot = aggregators()
    delta.run_pass("global", RunOptions(today=TODAY, end_date=TODAY.replace(day=1)))
    report = snapshot.run_pass("global", RunOptions(today=TODAY))
    assert report.last_day == TODAY.replace(day=1)
    store = BookmarkStore(current_search_client)
    assert store.get(SNAPSHOT, "global") == TODAY.replace(day=1)


def test_a_missing_delta_day_stops_the_pass_and_is_refilled(usage_events):
    """Must-not-repeat 15 and 16: a gap ends the pass at the day before it.

    The gap is reported (never raised), the delta bookmark moves back to the
    missing day, and the next delta and snapshot passes refill everything.
    """
    views, downloads = usage_events
    delta, snapshot = aggregators()
    delta.run_pass("global", RunOptions(today=TODAY))
    missing = TODAY.replace(day=3)
    current_search_client.delete(
        index=prefix_index(f"{DELTA_ALIAS}-2025"),
        id=f"global-{missing.isoformat()}",
        refresh=True,
    )
    report = snapshot.run_pass("global", RunOptions(today=TODAY))
    assert report.status == "failed"
    assert "DeltaDataGapError" in report.error
    assert report.last_day == TODAY.replace(day=2)
    store = BookmarkStore(current_search_client)
    assert store.get(SNAPSHOT, "global") == TODAY.replace(day=2)
    assert store.get(DELTA, "global") == missing

    delta.run_pass("global", RunOptions(today=TODAY))
    assert snapshot.run_pass("global", RunOptions(today=TODAY)).status == "completed"
    expected = expected_snapshots(views, downloads, "global", TODAY, TOP)
    assert stored_documents(SNAPSHOT_ALIAS, "global") == expected


def test_a_rewritten_old_delta_lowers_the_snapshot_bookmark(usage_events):
    """Must-not-repeat 36: corrected deltas flow into later snapshots."""
    views, downloads = usage_events
    delta, snapshot = aggregators()
    delta.run_pass("global", RunOptions(today=TODAY))
    snapshot.run_pass("global", RunOptions(today=TODAY))
    store = BookmarkStore(current_search_client)
    assert store.get(SNAPSHOT, "global") == TODAY

    first = TODAY.replace(day=1)
    delta.run_pass("global", RunOptions(today=TODAY, start_date=first))
    assert store.get(SNAPSHOT, "global") == first
    report = snapshot.run_pass("global", RunOptions(today=TODAY))
    assert report.first_day == TODAY.replace(month=2, day=28)
    expected = expected_snapshots(views, downloads, "global", TODAY, TOP)
    assert stored_documents(SNAPSHOT_ALIAS, "global") == expected


def test_over_the_memory_budget_the_pass_stops_at_its_last_written_day(usage_events):
    """04 §10: pages shrink to the minimum, then the pass stops with its bookmark.

    A budget of one byte is always exceeded: the delta pages shrink 4 → 2 → 1 over
    the first check and the first written day, and the check after the second day
    stops the pass. The next pass, under a normal budget, continues from there.
    """
    views, downloads = usage_events
    delta, snapshot = aggregators()
    delta.run_pass("global", RunOptions(today=TODAY))
    tight = UsageSnapshotAggregator(
        config={
            **snapshot.config,
            "COMMUNITY_STATS_MEM_BUDGET_BYTES": 1,
            "COMMUNITY_STATS_SCAN_PAGE_SIZE": 4,
            "COMMUNITY_STATS_SCAN_PAGE_SIZE_MIN": 1,
        }
    )
    report = tight.run_pass("global", RunOptions(today=TODAY))

    expected = expected_snapshots(views, downloads, "global", TODAY, TOP)
    first_two = dict(sorted(expected.items())[:2])
    assert report.status == "memory budget"
    assert report.error.startswith("memory budget: resident memory")
    assert report.documents == 2
    assert stored_documents(SNAPSHOT_ALIAS, "global") == first_two
    store = BookmarkStore(current_search_client)
    assert store.get(SNAPSHOT, "global") == report.last_day
    assert f"global-{report.last_day.isoformat()}" == max(first_two)

    assert snapshot.run_pass("global", RunOptions(today=TODAY)).status == "completed"
    assert stored_documents(SNAPSHOT_ALIAS, "global") == expected


def test_a_random_history_of_twenty_thousand_events_equals_the_oracle(
    running_app, clear_stats_indices, stats_dashboard
):
    """04 §13 test 25 (usage): 20,000 events, 5 communities, 60 days, seeded.

    Every delta and snapshot of every community and ``global`` equals the oracle.
    """
    stats_dashboard.ensure_search_setup(force=True)
    rng = random.Random(25)
    days = [date(2025, 1, 1) + timedelta(days=n) for n in range(60)]
    communities = ("u1", "u2", "u3", "u4", "u5")
    views = random_usage_events(rng, 14_000, False, days, communities)
    downloads = random_usage_events(rng, 6_000, True, days, communities)
    index_usage_events(views, downloads)
    today = days[-1] + timedelta(days=2)
    delta, snapshot = aggregators()
    for scope in (*communities, "global"):
        delta.run_pass(scope, RunOptions(today=today))
        report = snapshot.run_pass(scope, RunOptions(today=today))
        assert report.status == "completed", report.error
        assert stored_documents(DELTA_ALIAS, scope) == expected_deltas(
            views, downloads, scope, today
        )
        assert stored_documents(SNAPSHOT_ALIAS, scope) == expected_snapshots(
            views, downloads, scope, today, TOP
        )
