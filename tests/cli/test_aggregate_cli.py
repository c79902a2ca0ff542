"""``invenio community-stats aggregate`` (04 §9, 06 §4.1) run in process.

Inputs are fixture F's versions and events (global scope) written straight to the
indices; the CLI's "today" is the real one, so a catch-up spans many passes.
"""

import signal

import pytest
from helpers.background_jobs import wait_for
from helpers.processes import start_command, write_instance_config
from helpers.records_expectations import (
    expected_deltas,
    expected_snapshots,
    stored_count,
    stored_documents,
)
from helpers.records_fixtures import VERSIONS, D, fixture_f_events
from helpers.records_index import delete_versions, index_events, index_versions
from invenio_search import current_search_client
from invenio_search.utils import prefix_index

from invenio_stats_dashboard.aggregations.bookmarks import BookmarkStore
from invenio_stats_dashboard.cli import cli as root
from invenio_stats_dashboard.locks import task_lock
from invenio_stats_dashboard.timeutils import utc_now

RECORDS_DELTA = "community-records-delta-added-agg"


@pytest.fixture()
def fixture_f(running_app, clear_stats_indices, stats_dashboard):
    """Fixture F in the indices; the usage migration has nothing to do."""
    stats_dashboard.ensure_search_setup(force=True)
    index_versions(VERSIONS)
    index_events(fixture_f_events())
    yield
    delete_versions(VERSIONS)


def stats_indices():
    """Every aggregation or bookmark index of this session."""
    return sorted(
        current_search_client.indices.get(
            index=prefix_index("stats-community-*-agg*")
            + ","
            + prefix_index("stats-community-records-*")
            + ","
            + prefix_index("stats-community-usage-*")
            + ","
            + prefix_index("stats-bookmarks-community"),
            ignore_unavailable=True,
            allow_no_indices=True,
        )
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--aggregation-type", "nope"], "'nope' is not one of"),
        (
            ["--aggregation-type", "community-records-delta-created-agg"],
            "date basis not available in this version",
        ),
        (["--start-date", "2025-13-01"], "--start-date"),
        (["--start-date", "2025-06-10", "--end-date", "2025-06-01"], "is after"),
        (["--start-date", "2999-01-01"], "in the future"),
        (["--community-id", "no-such-community"], "unknown community"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(fixture_f, cli, args, message):
    """Must-not-repeat 18 and 31: usage errors before any change."""
    before = stats_indices()
    result = cli(root, "aggregate", "--community-id", "global", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert stats_indices() == before


def test_one_command_catches_up_with_a_banner_and_a_report(fixture_f, cli):
    """Setup-guide step 4: one command writes every day to today (04 §7.4)."""
    result = cli(root, "aggregate", "--community-id", "global", "--verbose")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert (
        "Aggregators: community-usage-delta-agg, community-records-delta-added-agg"
        in (lines[0])
    )
    assert lines[1] == "Communities: global"  # must-not-repeat 25
    assert "Aggregation completed" in result.output
    today = utc_now().date()
    store = BookmarkStore(current_search_client)
    assert store.get(RECORDS_DELTA, "global") == today
    snapshots = stored_count("stats-community-records-snapshot-added", "global")
    assert snapshots == (today - D[0]).days + 1


def test_no_update_bookmark_leaves_bookmarks_alone(fixture_f, cli):
    """Must-not-repeat 30 (foreground half): documents written, bookmarks unchanged."""
    result = cli(
        root,
        "aggregate",
        "--community-id",
        "global",
        "--aggregation-type",
        RECORDS_DELTA,
        "--no-update-bookmark",
        "--end-date",
        D[5].isoformat(),
    )
    assert result.exit_code == 0, result.output
    assert BookmarkStore(current_search_client).get(RECORDS_DELTA, "global") is None
    assert stored_count("stats-community-records-delta-added") == 6


def test_a_held_lock_exits_1_naming_the_holder(fixture_f, cli):
    """Must-not-repeat 29: a skipped run is not a success."""
    with task_lock("aggregation"):
        result = cli(root, "aggregate", "--community-id", "global")
    assert result.exit_code == 1
    assert "held by" in result.output
    assert "Error: skipped" in result.output


def test_the_background_twin_forwards_every_option(
    fixture_f, cli, cli_process, tmp_path
):
    """Must-not-repeat 30: ``--aggregation-type`` and ``--no-update-bookmark`` reach
    the child, which writes documents and leaves the bookmarks unchanged."""
    import json
    import time

    pid_dir = str(tmp_path / "jobs")
    started = cli_process(
        "invenio",
        "community-stats",
        "aggregate-background",
        "--pid-dir",
        pid_dir,
        "--community-id",
        "global",
        "--aggregation-type",
        RECORDS_DELTA,
        "--no-update-bookmark",
        "--end-date",
        D[5].isoformat(),
    )
    assert started.returncode == 0, started.stderr
    assert f"--aggregation-type {RECORDS_DELTA} --no-update-bookmark" in started.stdout
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        found = cli(
            root, "processes", "status", "aggregation", "--json", "--pid-dir", pid_dir
        )
        record = json.loads(found.stdout)
        if record and record.get("exit_code") is not None:
            break
        time.sleep(0.5)
    assert record["exit_code"] == 0, record
    assert BookmarkStore(current_search_client).get(RECORDS_DELTA, "global") is None
    assert stored_count("stats-community-records-delta-added") == 6


def indexed_operations(alias):
    """Documents indexed into ``alias`` so far, refreshed or not."""
    stats = current_search_client.indices.stats(
        index=prefix_index(f"{alias}-*"), metric="indexing"
    )
    return stats["_all"].get("total", {}).get("indexing", {}).get("index_total", 0)


def test_sigterm_stops_after_a_chunk_and_a_rerun_ends_identical(
    fixture_f, cli, app_config, tmp_path
):
    """04 §13 test 10: SIGTERM an eager run after its second bulk chunk, re-run.

    Chunks of one document make every day its own bulk request. The stopped run
    exits 143 with its completed days' bookmark; the re-run writes the rest, and
    every delta and snapshot equals the oracle's (the uninterrupted result).
    """
    instance = tmp_path / "instance"
    write_instance_config(
        instance,
        app_config,
        COMMUNITY_STATS_INITIAL_CHUNK_SIZE=1,
        COMMUNITY_STATS_MIN_CHUNK_SIZE=1,
        COMMUNITY_STATS_MAX_CHUNK_SIZE=1,
    )
    arguments = ("community-stats", "aggregate", "--community-id", "global")
    process = start_command(instance, "invenio", *arguments)
    delta = "stats-community-records-delta-added"
    try:
        wait_for(
            lambda: indexed_operations(delta) >= 2 or process.poll() is not None,
            timeout=120,
            interval=0.02,
            message="the second bulk chunk",
        )
        process.send_signal(signal.SIGTERM)
        output, errors = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + signal.SIGTERM, (output, errors)
    assert "stopped by SIGTERM; bookmarks of completed days saved" in errors
    today = utc_now().date()
    stopped_at = BookmarkStore(current_search_client).get(RECORDS_DELTA, "global")
    assert stopped_at is not None and D[0] <= stopped_at < today
    partial = stored_documents(delta, "global")
    assert max(partial) == f"global-{stopped_at.isoformat()}"

    rerun = cli(root, "aggregate", "--community-id", "global")
    assert rerun.exit_code == 0, rerun.output
    events = fixture_f_events()
    assert stored_documents(delta, "global") == expected_deltas(
        VERSIONS, events, "global", today
    )
    top = int(app_config.get("COMMUNITY_STATS_TOP_SUBCOUNT_LIMIT", 20))
    assert stored_documents(
        "stats-community-records-snapshot-added", "global"
    ) == expected_snapshots(VERSIONS, events, "global", today, top)
