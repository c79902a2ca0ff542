"""``community-usage-delta-agg`` writes the oracle's documents (04 §5.2, 01 §5.5).

A seeded random set of enriched views and downloads (every default usage
subcount, robots, machines, day edges, two communities, a month boundary and quiet
days) is indexed; the expected document of every scope and day comes from the
usage oracle over the same event dicts.
"""

import random
from datetime import date

import pytest
from flask import current_app
from helpers.usage_event_sets import (
    index_usage_events,
    random_usage_events,
)
from helpers.usage_expectations import (
    DELTA_ALIAS,
    QUIET,
    TODAY,
    A,
    B,
    expected_deltas,
    scope_start,
)
from helpers.usage_expectations import stored_documents as stored
from invenio_search import current_search_client
from opensearchpy.exceptions import TransportError

from invenio_stats_dashboard.aggregations.base import RunOptions
from invenio_stats_dashboard.aggregations.bookmarks import BookmarkStore
from invenio_stats_dashboard.aggregations.usage.delta_aggregator import (
    UsageDeltaAggregator,
)

NAME = "community-usage-delta-agg"


def expected_documents(views, downloads, scope, last=TODAY):
    """Every day's delta document from the oracle."""
    return expected_deltas(views, downloads, scope, last)


def stored_documents(scope):
    """Every stored usage delta of the scope."""
    return stored(DELTA_ALIAS, scope)


@pytest.mark.parametrize("scope", ["global", A, B])
def test_every_day_of_every_scope_equals_the_oracle(usage_events, scope):
    """Dense days from the scope start to today, every total and item as the oracle."""
    views, downloads = usage_events
    report = UsageDeltaAggregator().run_pass(scope, RunOptions(today=TODAY))

    expected = expected_documents(views, downloads, scope)
    assert stored_documents(scope) == expected
    assert report.status == "completed"
    assert report.first_day == scope_start(views, downloads, scope)
    assert (report.last_day, report.documents) == (TODAY, len(expected))
    assert BookmarkStore(current_search_client).get(NAME, scope) == TODAY
    quiet = expected[f"{scope}-{QUIET.isoformat()}"]
    assert quiet["totals"]["view"]["total_events"] == 0
    assert all(items == [] for items in quiet["subcounts"].values())


def test_robots_are_left_out_and_machines_counted(usage_events):
    """Must-not-repeat 9, checked on the stored global totals themselves."""
    views, _ = usage_events
    UsageDeltaAggregator().run_pass("global", RunOptions(today=TODAY))
    stored = stored_documents("global")
    counted = sum(d["totals"]["view"]["total_events"] for d in stored.values())
    assert counted == sum(1 for e in views if not e["is_robot"])
    assert any(e["is_robot"] for e in views)
    assert any(e["is_machine"] and not e["is_robot"] for e in views)


def test_a_rerun_writes_identical_documents_and_recomputes_the_previous_day(
    usage_events,
):
    """Same ids, same numbers; a continuing pass starts the day before the bookmark."""
    aggregator = UsageDeltaAggregator()
    aggregator.run_pass(A, RunOptions(today=TODAY))
    first = stored_documents(A)

    again = aggregator.run_pass(A, RunOptions(today=TODAY))
    assert (again.first_day, again.last_day, again.documents) == (
        date(2025, 3, 5),
        TODAY,
        2,
    )
    # the two recomputed days have no events: exactly the two totals searches
    assert again.searches == 2
    rebuilt = aggregator.run_pass(A, RunOptions(today=TODAY, ignore_bookmark=True))
    assert rebuilt.documents == len(first)
    assert stored_documents(A) == first


def test_the_catchup_interval_limits_each_pass(usage_events):
    """Interval 3: each pass adds 3 days and saves its bookmark (04 §7.4)."""
    views, downloads = usage_events
    config = {**current_app.config, "COMMUNITY_STATS_CATCHUP_INTERVAL": 3}
    aggregator = UsageDeltaAggregator(config=config)
    start = scope_start(views, downloads, "global")
    ranges = []
    for _ in range(6):
        report = aggregator.run_pass("global", RunOptions(today=TODAY))
        ranges.append((report.first_day, report.last_day))
        if report.last_day == TODAY:
            break
    # three new days per pass; each later pass also recomputes the bookmark's
    # previous day
    assert ranges == [
        (start, date(2025, 2, 28)),
        (date(2025, 2, 27), date(2025, 3, 3)),
        (date(2025, 3, 2), TODAY),
    ]
    assert stored_documents("global") == expected_documents(views, downloads, "global")


def test_a_scope_with_only_later_downloads_starts_at_its_first_download(
    running_app, clear_stats_indices, stats_dashboard
):
    """Must-not-repeat 10: the usage start is per scope, downloads included."""
    stats_dashboard.ensure_search_setup(force=True)
    rng = random.Random(7)
    views = random_usage_events(rng, 50, False, [date(2025, 3, 1)], ("x", "y"))
    downloads = random_usage_events(rng, 20, True, [date(2025, 3, 4)], ("x", "y"))
    for event in views:
        event["community_ids"] = ["x"]
    for event in downloads:
        event["community_ids"] = ["c-downloads"]
    index_usage_events(views, downloads)

    report = UsageDeltaAggregator().run_pass("c-downloads", RunOptions(today=TODAY))
    assert report.first_day == date(2025, 3, 4)
    stored = stored_documents("c-downloads")
    assert stored == expected_documents(views, downloads, "c-downloads")
    counted = sum(1 for e in downloads if not e["is_robot"])
    assert stored["c-downloads-2025-03-04"]["totals"]["download"]["total_events"] == (
        counted
    )
    assert counted > 0


class RefusingOnce:
    """A search client whose first bulk request is refused with HTTP 413."""

    def __init__(self, client):
        """Wrap ``client``."""
        self.client = client
        self.sizes = []

    def bulk(self, body, **kwargs):
        """Refuse the first request; record each request's document count."""
        size = body.count(b"\n") // 2
        self.sizes.append(size)
        if len(self.sizes) == 1:
            raise TransportError(413, "request entity too large", {})
        return self.client.bulk(body=body, **kwargs)

    def __getattr__(self, name):
        """Delegate everything else."""
        return getattr(self.client, name)


def test_a_refused_chunk_is_retried_smaller_from_its_buffer(usage_events):
    """Must-not-repeat 17: after one 413 every document is present."""
    views, downloads = usage_events
    client = RefusingOnce(current_search_client)
    report = UsageDeltaAggregator(client=client).run_pass(
        "global", RunOptions(today=TODAY)
    )
    expected = expected_documents(views, downloads, "global")
    assert client.sizes[0] == len(expected)
    assert client.sizes[1] < client.sizes[0]
    assert sum(client.sizes[1:]) == len(expected)
    assert report.documents == len(expected)
    assert stored_documents("global") == expected
