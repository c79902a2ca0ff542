"""``community-events generate-background`` under the real job machinery (02 §6, 06 §8).

The backfill runs in a detached supervisor started by a real ``invenio`` subprocess,
on synthetic versions in the records index (the backfill reads nothing else). The
test lists the job, cancels it mid-way, then lets a second background run finish and
checks that every membership is in the log exactly once.
"""

import json
import time
from collections import Counter

import pytest
from helpers.community_event_log import (
    clear_log,
    delete_synthetic_versions,
    index_synthetic_versions,
    log_hits,
    refresh_log,
)
from invenio_search import current_search_client

from invenio_stats_dashboard.cli import cli as stats_cli
from invenio_stats_dashboard.locks import lock_key

VERSIONS = 12_000
COMMUNITY = "0f6b5c1e-0000-4000-8000-00000000c0de"
NAME = "community-event-generation"


@pytest.fixture()
def pid_dir(tmp_path, cli):
    directory = str(tmp_path / "jobs")
    yield directory
    cli(stats_cli, "processes", "cancel", NAME, "--pid-dir", directory)


@pytest.fixture()
def synthetic_versions(running_app, clear_stats_indices, pid_dir):
    prefix = "bgjob-"
    created = index_synthetic_versions(VERSIONS, [COMMUNITY], prefix=prefix)
    clear_log()
    yield created
    delete_synthetic_versions(prefix)


def job_status(cli, pid_dir):
    result = cli(stats_cli, "processes", "status", NAME, "--json", "--pid-dir", pid_dir)
    return json.loads(result.stdout)


def wait_for(predicate, cli, pid_dir, timeout=240):
    deadline = time.monotonic() + timeout
    record = None
    while time.monotonic() < deadline:
        record = job_status(cli, pid_dir)
        if record and predicate(record):
            return record
        time.sleep(0.2)
    raise AssertionError(f"job never reached the expected state: {record}")


def lock_present(app):
    from redis import Redis

    key = lock_key(app.config["STATS_CACHE_PREFIX"], "community_stats_community_events")
    return bool(Redis.from_url(app.config["CACHE_REDIS_URL"]).exists(key))


def test_background_generate_listed_cancelled_and_rerun(
    running_app, synthetic_versions, cli, cli_process, pid_dir
):
    started = cli_process(
        "invenio",
        "community-stats",
        "community-events",
        "generate-background",
        "--pid-dir",
        pid_dir,
    )
    assert started.returncode == 0, started.stderr
    assert "processes status community-event-generation" in started.stdout

    listed = cli(stats_cli, "processes", "list", "--json", "--pid-dir", pid_dir)
    assert listed.exit_code == 0
    assert NAME in listed.stdout

    running = wait_for(
        lambda r: (
            r["status"] == "running"
            and str(r.get("current_task", "")).startswith("generating")
            and (r.get("progress") or 0) > 0
        ),
        cli,
        pid_dir,
    )
    assert running["progress"] < 100

    cancelled = cli(stats_cli, "processes", "cancel", NAME, "--pid-dir", pid_dir)
    assert cancelled.exit_code == 0, cancelled.stderr
    final = job_status(cli, pid_dir)
    assert final["status"] == "cancelled"
    assert not lock_present(running_app.app)
    refresh_log()
    partial = len(log_hits())
    assert 0 < partial < 2 * VERSIONS

    rerun = cli_process(
        "invenio",
        "community-stats",
        "community-events",
        "generate-background",
        "--no-show-progress",
        "--pid-dir",
        pid_dir,
    )
    assert rerun.returncode == 0, rerun.stderr
    done = wait_for(lambda r: r["status"] != "running", cli, pid_dir)
    assert done["status"] == "completed"
    assert done["exit_code"] == 0
    assert "--no-show-progress" in done["command"]

    refresh_log()
    hits = log_hits()
    pairs = Counter(
        (h["_source"]["record_id"], h["_source"]["community_id"]) for h in hits
    )
    expected = {
        (rid, scope) for rid in synthetic_versions for scope in ("global", COMMUNITY)
    }
    assert set(pairs) == expected
    assert max(pairs.values()) == 1
    assert len({h["_id"] for h in hits}) == len(hits) == 2 * VERSIONS
    current_search_client.indices.refresh()
