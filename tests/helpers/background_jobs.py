"""Drive real background jobs in tests, without the app (06 §8).

Import the fixtures by their function names (``pid_dir_fixture``,
``start_job_fixture``); they register as ``pid_dir`` and ``start_job``.

Jobs run a small Python program (``CHILD_PROGRAM``) that reports progress through the
package's own ``ProgressBar``, may start a grandchild ``sleep``, hold a lease lock,
ignore SIGTERM or stop cleanly on it, and exits with a chosen code.
"""

import json
import os
import secrets
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest

from invenio_stats_dashboard.jobs.files import JobFiles
from invenio_stats_dashboard.jobs.launch import start_background
from invenio_stats_dashboard.jobs.procinfo import group_alive
from invenio_stats_dashboard.jobs.status import read_status

CHILD_PROGRAM = r"""
import json, signal, subprocess, sys, time
from contextlib import ExitStack

spec = json.loads(sys.argv[1])
if spec.get("ignore_term"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print(spec.get("marker", "child started"), flush=True)
if spec.get("grandchild"):
    grandchild = subprocess.Popen([spec["sleep_path"], "300"])
    print(f"grandchild {grandchild.pid}", flush=True)
from invenio_stats_dashboard.jobs.interrupt import Interrupted, Interruption
from invenio_stats_dashboard.jobs.progress import ProgressBar

try:
    with ExitStack() as stack:
        stop = stack.enter_context(Interruption()) if spec.get("interruptible") else None
        if spec.get("lock"):
            from invenio_stats_dashboard.locks import task_lock

            lock = stack.enter_context(
                task_lock(spec["lock"]["section"], config=spec["lock"]["config"])
            )
            print(f"lock {lock.key}", flush=True)
        bar = stack.enter_context(
            ProgressBar(spec["steps"], "test job", status_interval=0)
        )
        for step in range(spec["steps"]):
            if stop is not None:
                stop.check()
            time.sleep(spec["sleep"])
            bar.update(current_task=f"step {step}")
except Interrupted as stopped:
    print(f"stopped: {stopped}", flush=True)
    sys.exit(stopped.exit_code)
print("child finished", flush=True)
sys.exit(spec.get("exit", 0))
"""


def child_command(
    steps=3,
    sleep=0.1,
    exit=0,
    *,
    grandchild=False,
    ignore_term=False,
    interruptible=False,
    lock=None,
    marker=None,
):
    """Return the argv of a test job (absolute interpreter, no PATH lookup)."""
    spec = {
        "steps": steps,
        "sleep": sleep,
        "exit": exit,
        "grandchild": grandchild,
        "sleep_path": shutil.which("sleep"),
        "ignore_term": ignore_term,
        "interruptible": interruptible,
        "lock": lock,
    }
    if marker:
        spec["marker"] = marker
    return [sys.executable, "-c", CHILD_PROGRAM, json.dumps(spec)]


def wait_for(predicate, timeout=20.0, interval=0.05, message="condition"):
    """Poll ``predicate`` until it returns a truthy value; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


def record_of(pid_dir: Path, name: str):
    """The job's status record, or None."""
    return read_status(JobFiles(name, pid_dir).status)


def wait_status(pid_dir: Path, name: str, statuses, timeout=20.0):
    """Wait until the record's status is one of ``statuses``; return the record."""
    statuses = (statuses,) if isinstance(statuses, str) else tuple(statuses)

    def reached():
        record = record_of(pid_dir, name)
        return record if record and record.get("status") in statuses else None

    return wait_for(reached, timeout, message=f"{name} to reach {statuses}")


def kill_group(pgid):
    """SIGKILL a process group if anything of it is left."""
    if isinstance(pgid, int) and pgid > 1 and group_alive(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture(name="pid_dir")
def pid_dir_fixture(tmp_path):
    """A pid directory of the test's own; every job's group is killed afterwards."""
    directory = tmp_path / "pids"
    yield directory
    for status in directory.glob("*.status"):
        try:
            record = json.loads(status.read_text())
        except (OSError, ValueError):
            continue
        kill_group(record.get("pgid"))


@pytest.fixture(name="start_job")
def start_job_fixture(pid_dir):
    """``start_job(name="aggregation", **child_options)``: start a real test job."""

    def start(name="aggregation", wait_seconds=0.3, **options):
        return start_background(
            name, child_command(**options), pid_dir, wait_seconds=wait_seconds
        )

    return start


def redis_lock_spec(redis_url, section="aggregation", lease=2, prefix=None):
    """A ``task_lock`` spec for the child: the section's lock on ``redis_url``."""
    from conftest import SESSION_PREFIX

    prefix = prefix or f"cache::{SESSION_PREFIX}jobs-{secrets.token_hex(3)}"
    names = {
        "aggregation": "community_stats_aggregation",
        "usage_migration": "community_stats_usage_migration",
    }
    return {
        "section": section,
        "config": {
            "CACHE_REDIS_URL": redis_url,
            "STATS_CACHE_PREFIX": prefix,
            "STATS_DASHBOARD_LOCK_CONFIG": {
                "enabled": True,
                section: {
                    "enabled": True,
                    "lock_name": names.get(section, f"community_stats_{section}"),
                    "lock_timeout": lease,
                },
            },
        },
    }


def error_lines(stderr: str):
    """The ``Error:`` lines of a command's stderr."""
    return [line for line in stderr.splitlines() if line.startswith("Error:")]


def assert_one_final_error(result, code=1):
    """06 §1: a failure exits non-zero and ends with exactly one ``Error:`` line."""
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert len(error_lines(result.stderr)) == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Error:"), result.stderr
