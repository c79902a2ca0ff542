"""One aggregation run: order, preconditions, lock, isolation, registry (04 §7.8, §8).

The run is the one the Celery task and the eager CLI share; here it runs in
process against the real services, over fixture F (records) and the standard
usage set (usage).
"""

import json
from datetime import date

import pytest
import redis
from flask import current_app
from helpers.legacy_events import (
    create_legacy_month,
    index_legacy_events,
    legacy_event,
)
from helpers.records_expectations import stored_count
from helpers.records_fixtures import VERSIONS, C, D, fixture_f_events
from helpers.records_index import delete_versions, index_events, index_versions
from helpers.usage_expectations import TODAY, index_standard_set
from invenio_search import current_search_client
from invenio_search.utils import prefix_index

from invenio_stats_dashboard.aggregations.base import RunOptions
from invenio_stats_dashboard.aggregations.bookmarks import BookmarkStore
from invenio_stats_dashboard.aggregations.records.delta_aggregator import (
    RecordsDeltaAggregator,
)
from invenio_stats_dashboard.aggregations.run import (
    AggregationRequest,
    AggregationRun,
)
from invenio_stats_dashboard.locks import task_lock
from invenio_stats_dashboard.redis_urls import agg_registry_redis_url

ALL = (
    "community-usage-snapshot-agg",  # named out of order on purpose
    "community-records-snapshot-added-agg",
    "community-records-delta-added-agg",
    "community-usage-delta-agg",
)
ALIASES = (
    "stats-community-usage-delta",
    "stats-community-records-delta-added",
    "stats-community-records-snapshot-added",
    "stats-community-usage-snapshot",
)


@pytest.fixture()
def inputs(running_app, clear_stats_indices, stats_dashboard):
    """Fixture F's versions and events, and the standard usage set."""
    stats_dashboard.ensure_search_setup(force=True)
    index_versions(VERSIONS)
    index_events(fixture_f_events())
    index_standard_set()
    yield
    delete_versions(VERSIONS)


def request(**options):
    """All four aggregators over C and global, today fixed, catch-up on."""
    return AggregationRequest(
        aggregations=ALL,
        community_ids=("global", C),
        options=RunOptions(today=TODAY, **options),
        catch_up=True,
    )


def registry():
    """The job-registry database of the test app."""
    return redis.Redis.from_url(agg_registry_redis_url(current_app.config))


def test_a_run_writes_all_four_in_order_and_reports(inputs):
    """Canonical order, global last, JSON result, registry keys, lock released."""
    result = AggregationRun(migration_state=lambda: "complete").run(request())
    report = result.as_dict()
    json.dumps(report)  # the task result must serialise

    assert report["status"] == "completed", report["formatted_report"]
    assert [r["name"] for r in report["results"]] == [
        "community-usage-delta-agg",
        "community-records-delta-added-agg",
        "community-records-snapshot-added-agg",
        "community-usage-snapshot-agg",
    ]
    for entry in report["results"]:
        assert [p["scope"] for p in entry["passes"]] == [C, "global"]
    # records documents from D1 (fixture F's first day) to today, every day
    days = (TODAY - D[0]).days + 1
    assert stored_count(ALIASES[1], C) == stored_count(ALIASES[2], C) == days
    assert stored_count(ALIASES[0], "global") == stored_count(ALIASES[3], "global")
    assert stored_count(ALIASES[0], "global") == (TODAY - date(2025, 2, 26)).days + 1

    keys = registry()
    prefix = current_app.config["STATS_AGG_REGISTRY_PREFIX"]
    assert keys.get(f"{prefix}:global_first_run") == b"in_progress"
    assert not keys.exists(f"{prefix}:global_agg")
    # the run wrote days of 2025, a past year: cached responses must be rebuilt
    assert keys.exists(f"{prefix}:global_agg_updated_2025")
    with task_lock("aggregation"):
        pass  # released: it can be taken again


def test_a_held_lock_skips_the_run_and_writes_nothing(inputs):
    """Must-not-repeat 29: a second run reports the holder and does nothing."""
    with task_lock("aggregation"):
        result = AggregationRun(migration_state=lambda: "complete").run(request())
    assert result.status == "skipped"
    assert "held by" in result.message
    assert all(stored_count(alias) == 0 for alias in ALIASES)


def test_an_empty_membership_log_refuses_every_aggregator(
    running_app, clear_stats_indices, stats_dashboard
):
    """04 §7.8: no community events and no marker: refused, nothing written."""
    stats_dashboard.ensure_search_setup(force=True)
    result = AggregationRun(migration_state=lambda: "complete").run(request())
    assert result.status == "refused"
    assert "community-events generate" in result.results[0].message
    assert all(stored_count(alias) == 0 for alias in ALIASES)


def test_an_incomplete_migration_skips_usage_but_aggregates_records(inputs):
    """04 §13 test 15 case 2: a real legacy monthly view index, not yet migrated.

    The run reads the real migration state (``required``): the usage aggregators
    are skipped with the migration command, no usage document is written, and the
    records are still aggregated.
    """
    legacy = create_legacy_month("view", "2024-01")
    index_legacy_events(
        "view", [legacy_event("view", "leg-1", "2024-01-10T10:00:00", "visitor")]
    )
    try:
        result = AggregationRun().run(request())
    finally:
        current_search_client.indices.delete(index=legacy, ignore=[404])
    statuses = {r.name: r.status for r in result.results}
    assert statuses["community-usage-delta-agg"] == "skipped"
    assert statuses["community-usage-snapshot-agg"] == "skipped"
    assert "usage-events migrate" in result.results[0].message
    assert statuses["community-records-delta-added-agg"] == "completed"
    assert stored_count(ALIASES[0]) == stored_count(ALIASES[3]) == 0
    assert stored_count(ALIASES[1]) > 0
    assert result.status == "completed with errors"


def test_an_unmapped_subcount_key_refuses_its_aggregators(inputs, set_config):
    """04 §13 test 15 case 3: a key the templates do not map writes nothing."""
    subcounts = dict(current_app.config["COMMUNITY_STATS_SUBCOUNTS"])
    subcounts["shoe_sizes"] = {
        "records": {
            "snapshot_type": "all",
            "source_fields": [
                {
                    "field": "metadata.shoe_size.id",
                    "label_field": None,
                    "label_source_includes": [],
                }
            ],
        },
        "usage_events": {
            "event_field": "shoe_size",
            "extraction_path_for_event": "metadata.shoe_size",
            "snapshot_type": "all",
            "source_fields": [
                {
                    "field": "shoe_size.id",
                    "label_field": None,
                    "label_source_includes": [],
                }
            ],
        },
    }
    set_config(COMMUNITY_STATS_SUBCOUNTS=subcounts)
    result = AggregationRun(migration_state=lambda: "complete").run(request())
    assert result.status == "refused"
    assert {r.status for r in result.results} == {"refused"}
    assert all(
        "not mapped" in r.message and "shoe_sizes" in r.message for r in result.results
    )
    assert all(stored_count(alias) == 0 for alias in ALIASES)


def test_one_failing_scope_leaves_the_others_and_its_bookmark(inputs, monkeypatch):
    """Must-not-repeat 15/22: the failure is reported, the run goes on."""
    original = RecordsDeltaAggregator.run_pass

    def failing(self, scope, options):
        if scope == C:
            raise RuntimeError("injected failure")
        return original(self, scope, options)

    monkeypatch.setattr(RecordsDeltaAggregator, "run_pass", failing)
    result = AggregationRun(migration_state=lambda: "complete").run(request())
    report = result.as_dict()
    records = report["results"][1]
    assert records["status"] == "completed with errors"
    assert records["errors"] == [{"scope": C, "error": "injected failure"}]
    assert result.status == "completed with errors"
    store = BookmarkStore(current_search_client)
    assert store.get("community-records-delta-added-agg", C) is None
    assert store.get("community-records-delta-added-agg", "global") == TODAY
    assert stored_count(ALIASES[0], C) > 0  # the usage aggregators still ran for C


def stored_without_timestamps():
    """Every aggregation document of the session, by alias and id."""
    found = {}
    for alias in ALIASES:
        index = prefix_index(alias)
        current_search_client.indices.refresh(index=index, ignore_unavailable=True)
        hits = current_search_client.search(
            index=index,
            body={"query": {"match_all": {}}, "size": 5000},
            ignore_unavailable=True,
        )["hits"]["hits"]
        for hit in hits:
            source = dict(hit["_source"])
            source.pop("timestamp"), source.pop("updated_timestamp")
            found[(alias, hit["_id"])] = source
    return found


def clear_aggregation_outputs():
    """Delete the aggregation indices and bookmarks (inputs stay)."""
    for alias in (*ALIASES, "stats-bookmarks-community"):
        current_search_client.indices.delete(
            index=prefix_index(f"{alias}*"), ignore_unavailable=True
        )


def test_an_interrupted_run_re_run_equals_an_uninterrupted_one(inputs, set_config):
    """04 §7.7: stop after the second bulk chunk; the re-run ends identical."""
    from invenio_stats_dashboard.jobs.interrupt import Interrupted

    set_config(COMMUNITY_STATS_INITIAL_CHUNK_SIZE=3, COMMUNITY_STATS_MAX_CHUNK_SIZE=3)
    AggregationRun(migration_state=lambda: "complete").run(request())
    reference = stored_without_timestamps()
    clear_aggregation_outputs()

    asked = {"count": 0}

    def stop_after_two_chunks():
        asked["count"] += 1
        return asked["count"] > 6  # asked once per document: 2 chunks of 3

    def checkpoint():
        if asked["count"] > 6:
            raise Interrupted(15)

    run = AggregationRun(
        migration_state=lambda: "complete",
        should_stop=stop_after_two_chunks,
        checkpoint=checkpoint,
    )
    with pytest.raises(Interrupted):
        run.run(request())
    partial = stored_without_timestamps()
    assert 0 < len(partial) < len(reference)
    with task_lock("aggregation"):
        pass  # the interrupted run released its lock

    AggregationRun(migration_state=lambda: "complete").run(request())
    assert stored_without_timestamps() == reference
