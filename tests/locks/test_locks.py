"""Renewable lease locks on the real Redis (07 §2.10, 01 §9.3, 06 §1)."""

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time

import pytest
import redis
from conftest import REDIS_DBS, SESSION_PREFIX
from flask import Flask
from helpers.background_jobs import wait_for
from helpers.services import redis_url

from invenio_stats_dashboard.errors import TaskLockAcquisitionError
from invenio_stats_dashboard.jobs.status import STATUS_FILE_ENV
from invenio_stats_dashboard.locks import (
    LeaseLock,
    LockHolder,
    lock_holder,
    lock_key,
    release_lock_token,
    task_lock,
)

SECTION = "community_events"
LOCK_NAME = "community_stats_community_events"


@pytest.fixture()
def url():
    return redis_url(REDIS_DBS["cache"])


@pytest.fixture()
def client(url):
    connection = redis.Redis.from_url(url)
    yield connection
    connection.close()


@pytest.fixture()
def lock_config(url, client):
    """An app-like config whose lock keys are this test's own (session prefix)."""
    prefix = f"cache::{SESSION_PREFIX}locks-{secrets.token_hex(4)}"
    config = {
        "CACHE_REDIS_URL": url,
        "STATS_CACHE_PREFIX": prefix,
        "STATS_DASHBOARD_LOCK_CONFIG": {
            "enabled": True,
            SECTION: {"enabled": True, "lock_name": LOCK_NAME, "lock_timeout": 2},
        },
    }
    yield config
    for key in client.scan_iter(match=f"{prefix}-lock:*"):
        client.delete(key)


def key_of(config):
    return lock_key(config["STATS_CACHE_PREFIX"], LOCK_NAME)


def test_key_and_holder_token(lock_config, client):
    """01 §9.3: key ``<prefix>-lock:<name>``, value names token, host, pid, since."""
    with task_lock(SECTION, config=lock_config) as lock:
        assert lock.key == f"{lock_config['STATS_CACHE_PREFIX']}-lock:{LOCK_NAME}"
        value = json.loads(client.get(lock.key))
        assert set(value) == {"token", "host", "pid", "since"}
        assert value["pid"] == os.getpid()
        assert len(value["token"]) == 32
        assert 0 < client.pttl(lock.key) <= 2000
    assert client.exists(lock.key) == 0


def test_second_acquire_names_the_holder(lock_config):
    """06 §1: a second run fails with ``lock <name> held by <host>:<pid> since <t>``."""
    with task_lock(SECTION, config=lock_config) as lock:
        holder = json.loads(lock.token)
        with pytest.raises(TaskLockAcquisitionError) as refused:
            with task_lock(SECTION, config=lock_config):
                pytest.fail("the second run must not start its work")
    assert str(refused.value) == (
        f"lock {LOCK_NAME} held by {holder['host']}:{holder['pid']} "
        f"since {holder['since']}"
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", holder["since"])


def test_heartbeat_keeps_the_lock_across_leases(lock_config, client):
    """07 §12 C/#23: a healthy run lasting over three leases keeps its lock."""
    with task_lock(SECTION, config=lock_config) as lock:
        started = time.monotonic()
        while time.monotonic() - started < 7:  # 3.5 leases of 2 s
            assert client.get(lock.key) == lock.token.encode()
            time.sleep(0.25)
        assert not lock.lost
    assert client.exists(key_of(lock_config)) == 0


def test_heartbeat_is_not_blocked_by_slow_work(lock_config, client):
    """The renewal runs in its own thread while the main thread is busy."""
    with task_lock(SECTION, config=lock_config) as lock:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # busy, never yields to a lease call
            sum(range(10000))
        assert client.get(lock.key) == lock.token.encode()


def test_killed_holder_expires_after_one_lease(lock_config, client):
    """07 §11 #23: kill a holder → a new run acquires within one lease."""
    program = (
        "import json, sys, time\n"
        "from invenio_stats_dashboard.locks import task_lock\n"
        "with task_lock(sys.argv[1], config=json.loads(sys.argv[2])):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(600)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", program, SECTION, json.dumps(lock_config)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        time.sleep(2.5)  # longer than a lease: the heartbeat keeps it alive
        assert client.exists(key_of(lock_config)) == 1
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        killed_at = time.monotonic()
        with pytest.raises(TaskLockAcquisitionError):
            with task_lock(SECTION, config=lock_config):
                pass
        wait_for(lambda: client.exists(key_of(lock_config)) == 0, timeout=3)
        assert time.monotonic() - killed_at <= 2.5
        with task_lock(SECTION, config=lock_config) as lock:
            assert lock is not None
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def test_release_does_not_delete_another_holders_key(lock_config, client):
    """07 §2.10: compare-and-delete: a taken-over key survives our release."""
    key = key_of(lock_config)
    lock = LeaseLock(client, key, 2, name=LOCK_NAME)
    lock.acquire()
    client.set(key, "someone else", px=5000)  # our lease lapsed; another run took it
    assert lock.release() is False
    assert client.get(key) == b"someone else"
    assert release_lock_token(lock_config["CACHE_REDIS_URL"], key, "stale") is False
    assert client.get(key) == b"someone else"
    assert release_lock_token(lock_config["CACHE_REDIS_URL"], key, "someone else")
    assert client.exists(key) == 0


def test_lost_lock_is_reported(lock_config, client):
    key = key_of(lock_config)
    with LeaseLock(client, key, 1, name=LOCK_NAME) as lock:
        client.delete(key)
        wait_for(lambda: lock.lost, timeout=3, message="the heartbeat to notice")


@pytest.mark.parametrize("switch", ["top", "section"])
def test_disabled_lock_takes_no_lock(lock_config, client, switch):
    """07 §2.10: both ``enabled`` must be true to lock."""
    settings = lock_config["STATS_DASHBOARD_LOCK_CONFIG"]
    if switch == "top":
        settings["enabled"] = False
    else:
        settings[SECTION]["enabled"] = False
    with task_lock(SECTION, config=lock_config) as lock:
        assert lock is None
        assert client.exists(key_of(lock_config)) == 0
        with task_lock(SECTION, config=lock_config) as second:
            assert second is None


def test_unknown_section_is_an_error(lock_config):
    with pytest.raises(ValueError, match="no section 'bogus'"):
        with task_lock("bogus", config=lock_config):
            pass


def test_reads_the_current_app_config(lock_config, client):
    app = Flask("locks")
    app.config.update(lock_config)
    with app.app_context():
        with task_lock(SECTION) as lock:
            assert lock.key == key_of(lock_config)
            assert client.exists(lock.key) == 1


def test_holder_of_a_foreign_value(lock_config, client):
    key = key_of(lock_config)
    assert lock_holder(client, key) is None
    client.set(key, "legacy", px=5000)
    assert lock_holder(client, key) == LockHolder(
        "legacy", "unknown", "unknown", "unknown"
    )
    with pytest.raises(TaskLockAcquisitionError, match="held by unknown:unknown"):
        with task_lock(SECTION, config=lock_config):
            pass


def test_job_records_and_forgets_its_token(lock_config, tmp_path, monkeypatch):
    """06 §8.1: a job's locks are listed in ``lock_tokens`` while held."""
    status = tmp_path / "job.status"
    status.write_text("{}")
    monkeypatch.setenv(STATUS_FILE_ENV, str(status))
    with task_lock(SECTION, config=lock_config) as lock:
        recorded = json.loads(status.read_text())["lock_tokens"]
        assert recorded == [
            {
                "key": lock.key,
                "token": lock.token,
                "redis_url": lock_config["CACHE_REDIS_URL"],
            }
        ]
    assert json.loads(status.read_text())["lock_tokens"] == []
