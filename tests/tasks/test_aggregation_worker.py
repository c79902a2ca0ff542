"""A real Celery worker runs the beat aggregation task once (04 §13 test 24).

The worker is a ``celery`` subprocess on the session's Redis broker (its key
prefix included) and the same search prefix; the test sends the beat entry's task
exactly as beat would and waits for the result through a Redis result backend.
"""

import json
import subprocess

import pytest
from celery import Celery
from helpers.processes import command_env, program_path, write_instance_config
from helpers.records_expectations import stored_count
from helpers.records_fixtures import VERSIONS, D, fixture_f_events
from helpers.records_index import delete_versions, index_events, index_versions

from invenio_stats_dashboard.locks import task_lock
from invenio_stats_dashboard.registries import merge_beat_schedule
from invenio_stats_dashboard.timeutils import utc_now

BEAT_ENTRY = "stats-aggregate-community-record-stats"


@pytest.fixture()
def worker(running_app, clear_stats_indices, stats_dashboard, tmp_path):
    """Start a worker on the session's broker; stop it afterwards."""
    stats_dashboard.ensure_search_setup(force=True)
    index_versions(VERSIONS)
    index_events(fixture_f_events())
    backend = running_app.app.config["BROKER_URL"]  # results next to the queue
    instance = tmp_path / "instance"
    write_instance_config(
        instance, running_app.app.config, CELERY_RESULT_BACKEND=backend
    )
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(
        [
            program_path("celery"),
            "-A",
            "invenio_app.celery",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ],
        env=command_env(instance),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield backend, tmp_path / "worker.log"
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()
    delete_versions(VERSIONS)


def test_the_beat_task_runs_once_in_a_real_worker(running_app, worker):
    """Documents written, lock released, the result serialisable."""
    backend, log = worker
    config = running_app.app.config
    schedule = merge_beat_schedule(
        {**config, "COMMUNITY_STATS_SCHEDULED_AGG_TASKS_ENABLED": True}
    )
    entry = schedule[BEAT_ENTRY]
    client = Celery(broker=config["BROKER_URL"], backend=backend)
    client.conf.broker_transport_options = config["CELERY_BROKER_TRANSPORT_OPTIONS"]
    # results are read with the serializer the worker stores them with
    client.conf.result_serializer = config.get("CELERY_RESULT_SERIALIZER", "json")
    client.conf.accept_content = client.conf.result_accept_content = ["json", "msgpack"]
    sent = client.send_task(entry["task"], args=entry["args"])
    try:
        result = sent.get(timeout=240)
    except Exception:
        print(log.read_text()[-5000:])
        raise
    json.dumps(result)
    assert result["status"] == "completed", result["formatted_report"]
    assert stored_count("stats-community-records-snapshot-added", "global") > 0
    with task_lock("aggregation"):
        pass  # the worker released the lock


def test_aggregate_no_eager_sends_one_task_per_pass(running_app, worker, cli_process):
    """``aggregate --no-eager`` sends one task per pass until caught up (04 §9).

    Fixture F starts on 2025-03-01; with the default interval of 365 days one
    pass cannot reach today, so the command sends a second task continuing from
    the bookmarks, printing each task id and report; every day is then written.
    """
    backend, log = worker
    result = cli_process(
        "invenio",
        "community-stats",
        "aggregate",
        "--no-eager",
        "--community-id",
        "global",
        config={"CELERY_RESULT_BACKEND": backend, "CELERY_TASK_ALWAYS_EAGER": False},
        timeout=300,
    )
    assert result.returncode == 0, (result.stdout, result.stderr, log.read_text())
    today = utc_now().date()
    interval = running_app.app.config["COMMUNITY_STATS_CATCHUP_INTERVAL"]
    passes = -(-((today - D[0]).days + 1) // interval)  # ceiling division
    assert passes >= 2
    assert result.stdout.count("Sent task ") == passes
    assert result.stdout.count("Aggregation completed") == passes
    snapshots = stored_count("stats-community-records-snapshot-added", "global")
    assert snapshots == (today - D[0]).days + 1
