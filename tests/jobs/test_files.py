"""Job names, pid directory, safe file writes, pid lock, process identity (06 §8.1)."""

import os
import subprocess

import pytest

from invenio_stats_dashboard.jobs.files import (
    JobFiles,
    UnsafeJobFileError,
    ensure_pid_dir,
    open_nofollow,
    resolve_pid_dir,
    rotate_log,
    tail,
    write_atomic,
)
from invenio_stats_dashboard.jobs.names import PROCESS_NAMES, full_name, short_name
from invenio_stats_dashboard.jobs.pidfile import (
    pid_lock_held,
    read_pid,
    take_pid_lock,
    write_pid,
)
from invenio_stats_dashboard.jobs.procinfo import (
    group_members,
    process_start_time,
    same_process,
)
from invenio_stats_dashboard.jobs.status import (
    StatusFileError,
    parse_timestamp,
    read_status,
    update_status,
    utc_timestamp,
)


def test_names_short_and_full():
    assert PROCESS_NAMES == (
        "aggregation",
        "cache-generation",
        "community-event-generation",
        "usage-event-generation",
        "event-migration",
    )
    for name in PROCESS_NAMES:
        assert full_name(name) == f"invenio-community-stats-{name}"
        assert short_name(name) == name
        assert short_name(full_name(name)) == name
    with pytest.raises(ValueError, match="unknown process name"):
        short_name("invenio-community-stats-invenio-community-stats-aggregation")
    with pytest.raises(ValueError):
        short_name("bogus")


def test_pid_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("COMMUNITY_STATS_PID_DIR", raising=False)
    assert str(resolve_pid_dir(None)) == "/tmp"
    monkeypatch.setenv("COMMUNITY_STATS_PID_DIR", str(tmp_path / "env"))
    assert resolve_pid_dir(None) == tmp_path / "env"
    assert resolve_pid_dir(tmp_path / "option") == tmp_path / "option"


def test_missing_pid_dir_is_created_0700(tmp_path):
    old_umask = os.umask(0)
    try:
        created = ensure_pid_dir(tmp_path / "a" / "pids")
    finally:
        os.umask(old_umask)
    assert created.is_dir()
    assert created.stat().st_mode & 0o777 == 0o700
    (tmp_path / "file").write_text("")
    with pytest.raises(UnsafeJobFileError):
        ensure_pid_dir(tmp_path / "file")


def test_atomic_write_mode_and_symlink_refusal(tmp_path):
    path = tmp_path / "job.status"
    write_atomic(path, b'{"a": 1}')
    assert path.read_bytes() == b'{"a": 1}'
    assert path.stat().st_mode & 0o777 == 0o600
    target = tmp_path / "target"
    target.write_text("keep")
    link = tmp_path / "link.status"
    link.symlink_to(target)
    with pytest.raises(UnsafeJobFileError, match="symbolic link"):
        write_atomic(link, b"x")
    with pytest.raises(UnsafeJobFileError, match="symbolic link"):
        open_nofollow(link, os.O_RDONLY)
    assert target.read_text() == "keep"
    assert not list(tmp_path.glob(".*.tmp"))


def test_status_update_merges_and_stamps(tmp_path):
    path = tmp_path / "x.status"
    update_status(path, status="running", progress=None)
    record = update_status(path, progress=12.5)
    assert read_status(path) == record
    assert record["status"] == "running" and record["progress"] == 12.5
    assert parse_timestamp(record["last_update"]) is not None
    assert utc_timestamp().endswith("Z")
    path.write_text("not json")
    with pytest.raises(StatusFileError):
        read_status(path)
    assert read_status(tmp_path / "missing") is None


def test_log_rotation_and_tail(tmp_path):
    files = JobFiles("aggregation", tmp_path)
    files.log.write_text("".join(f"old {i}\n" for i in range(5)))
    rotate_log(files)
    assert not files.log.exists()
    assert files.previous_log.read_text().startswith("old 0\n")
    files.log.write_text("".join(f"line {i}\n" for i in range(10000)))
    assert tail(files.log, 3) == ["line 9997", "line 9998", "line 9999"]
    assert tail(tmp_path / "missing.log", 3) == []


def test_pid_lock_is_exclusive_and_dies_with_its_descriptor(tmp_path):
    path = tmp_path / "job.pid"
    assert not pid_lock_held(path)
    fd = take_pid_lock(path)
    assert fd is not None
    write_pid(fd, 4242)
    assert read_pid(path) == 4242
    assert pid_lock_held(path)
    assert take_pid_lock(path, retry_seconds=0.05) is None
    os.close(fd)
    assert not pid_lock_held(path)
    again = take_pid_lock(path)
    assert again is not None
    os.close(again)


def test_process_identity_and_groups():
    me = os.getpid()
    started = process_start_time(me)
    assert started is not None
    assert same_process(me, started)
    assert not same_process(me, started - 100)
    assert not same_process(None, started)
    assert me in group_members(os.getpgid(0))
    child = subprocess.Popen(["/bin/sh", "-c", "exit 0"], start_new_session=True)
    try:
        import time

        deadline = time.monotonic() + 10
        while process_start_time(child.pid) is not None:  # becomes a zombie
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert group_members(child.pid) == []
    finally:
        child.wait()
    assert process_start_time(child.pid) is None
