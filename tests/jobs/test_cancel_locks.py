"""``processes cancel`` frees exactly the locks the job recorded (06 §8.4, §11 #11)."""

import redis
from click.testing import CliRunner
from conftest import REDIS_DBS
from helpers.background_jobs import (
    pid_dir_fixture,  # noqa: F401 - registers the pid_dir fixture
    record_of,
    redis_lock_spec,
    start_job_fixture,  # noqa: F401 - registers the start_job fixture
    wait_for,
    wait_status,
)
from helpers.services import redis_url

from invenio_stats_dashboard.cli.processes import processes
from invenio_stats_dashboard.jobs.files import JobFiles
from invenio_stats_dashboard.jobs.status import update_status
from invenio_stats_dashboard.locks import lock_key


def _key(spec):
    config = spec["config"]
    name = config["STATS_DASHBOARD_LOCK_CONFIG"][spec["section"]]["lock_name"]
    return lock_key(config["STATS_CACHE_PREFIX"], name)


def _cancel(pid_dir, *extra):
    return CliRunner().invoke(
        processes,
        ["cancel", "event-migration", "--pid-dir", str(pid_dir), *extra],
    )


def test_cancel_releases_the_recorded_token_only(pid_dir, start_job):
    url = redis_url(REDIS_DBS["cache"])
    client = redis.Redis.from_url(url)
    spec = redis_lock_spec(url, section="usage_migration", lease=30)
    other_key = f"{spec['config']['STATS_CACHE_PREFIX']}-lock:other"
    try:
        # The command ignores SIGTERM, so only cancel's SIGKILL stops it and the
        # lock can only be freed by cancel itself.
        start_job("event-migration", steps=600, sleep=0.1, ignore_term=True, lock=spec)
        key = _key(spec)
        record = wait_for(
            lambda: (
                (r := record_of(pid_dir, "event-migration")) and r["lock_tokens"] and r
            )
        )
        token = record["lock_tokens"][0]["token"]
        assert record["lock_tokens"] == [{"key": key, "token": token, "redis_url": url}]
        assert client.get(key) == token.encode()
        # A second recorded lock whose key another run holds now.
        client.set(other_key, "another run's token", px=60000)
        update_status(
            JobFiles("event-migration", pid_dir).status,
            lock_tokens=[
                *record["lock_tokens"],
                {"key": other_key, "token": "stale token", "redis_url": url},
            ],
        )
        result = _cancel(pid_dir, "--timeout", "1")
        assert result.exit_code == 0, result.stderr
        assert f"Released lock {key}." in result.stdout
        assert f"Lock {other_key} is no longer held by this job" in result.stdout
        assert client.exists(key) == 0
        assert client.get(other_key) == b"another run's token"
        final = record_of(pid_dir, "event-migration")
        assert final["status"] == "cancelled" and final["forced"] is True
        assert final["lock_tokens"] == []
    finally:
        client.delete(other_key, _key(spec))
        client.close()


def test_cancelled_command_stops_at_a_safe_point(pid_dir, start_job):
    """06 §1: SIGTERM → the command stops cleanly, releases its lock, exits 143."""
    url = redis_url(REDIS_DBS["cache"])
    client = redis.Redis.from_url(url)
    spec = redis_lock_spec(url, section="aggregation", lease=30)
    try:
        start_job(steps=600, sleep=0.1, interruptible=True, lock=spec)
        wait_for(
            lambda: (
                (r := record_of(pid_dir, "aggregation"))
                and r["lock_tokens"]
                and (r["progress"] or 0) > 0
            )
        )
        result = CliRunner().invoke(
            processes, ["cancel", "aggregation", "--pid-dir", str(pid_dir)]
        )
        assert result.exit_code == 0, result.stderr
        assert "Released lock" not in result.stdout  # the command released it itself
        final = wait_status(pid_dir, "aggregation", "cancelled")
        assert final["exit_code"] == 143
        assert "forced" not in final
        assert final["lock_tokens"] == []
        assert client.exists(_key(spec)) == 0
        log = JobFiles("aggregation", pid_dir).log.read_text()
        assert "stopped: stopped by SIGTERM" in log
        assert final["progress"] < 100
    finally:
        client.delete(_key(spec))
        client.close()
