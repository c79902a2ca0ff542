"""Background jobs for real: supervisor, files, liveness, cancel (06 §8, §11 31–36)."""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from helpers.background_jobs import (
    assert_one_final_error,
    child_command,
    kill_group,
    pid_dir_fixture,  # noqa: F401 - registers the pid_dir fixture
    record_of,
    start_job_fixture,  # noqa: F401 - registers the start_job fixture
    wait_for,
    wait_status,
)

from invenio_stats_dashboard.cli.background import run_background
from invenio_stats_dashboard.cli.processes import processes
from invenio_stats_dashboard.jobs.files import JobFiles
from invenio_stats_dashboard.jobs.launch import (
    SUPERVISOR_MODULE,
    JobAlreadyRunningError,
    start_background,
)
from invenio_stats_dashboard.jobs.pidfile import pid_lock_held
from invenio_stats_dashboard.jobs.procinfo import process_start_time


def run_cli(command, *args):
    return CliRunner().invoke(command, [str(arg) for arg in args])


@click.command()
@click.argument("name")
@click.argument("pid_dir_arg", type=click.Path(path_type=Path))
@click.argument("command", nargs=-1)
def launch(name, pid_dir_arg, command):
    """Test entry point to the parent side of ``*-background``."""
    run_background(name, list(command), pid_dir_arg)


def supervisors_for(directory):
    """Pids of live supervisor processes started for ``directory``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        text = [part.decode(errors="replace") for part in argv]
        if SUPERVISOR_MODULE in text and str(directory) in text:
            if process_start_time(int(entry.name)) is not None:
                found.append(int(entry.name))
    return found


def test_status_goes_running_to_completed_with_progress(pid_dir, start_job):
    """§11 #31: running → completed, exit_code 0, progress > 0 seen while running."""
    report = start_job(steps=8, sleep=0.25)
    assert not report.failed
    seen_running = wait_for(
        lambda: (
            (record := record_of(pid_dir, "aggregation"))
            and record["status"] == "running"
            and (record["progress"] or 0) > 0
            and record
        ),
        message="a running record with progress",
    )
    assert 0 < seen_running["progress"] < 100
    assert seen_running["exit_code"] is None
    assert seen_running["current_task"].startswith("step ")
    final = wait_status(pid_dir, "aggregation", "completed")
    assert final["exit_code"] == 0
    assert final["progress"] == 100.0
    assert final["counters"] == {"done": 8, "total": 8}
    assert final["command"] == report.command
    assert final["end_time"] and final["start_time"] <= final["end_time"]
    assert final["name"] == "aggregation"
    assert final["full_name"] == "invenio-community-stats-aggregation"
    assert final["log_file"] == str(JobFiles("aggregation", pid_dir).log)
    for path in JobFiles("aggregation", pid_dir).all()[:3]:
        assert path.stat().st_mode & 0o777 == 0o600
    assert pid_dir.stat().st_mode & 0o777 == 0o700


def test_supervisor_is_detached_and_holds_only_its_files(pid_dir, start_job):
    """§11 #34: own session, stdin /dev/null, SIGHUP ignored, no leaked handle."""
    start_job(steps=40, sleep=0.1)
    record = wait_status(pid_dir, "aggregation", "running")
    pid = record["pid"]
    assert os.getsid(pid) != os.getsid(0)
    assert os.getsid(pid) == pid == record["pgid"]
    assert record["create_time"] == process_start_time(pid)
    assert os.readlink(f"/proc/{pid}/fd/0") == "/dev/null"
    ignored = int(
        re.search(r"SigIgn:\s*([0-9a-f]+)", Path(f"/proc/{pid}/status").read_text())[1],
        16,
    )
    assert ignored & (1 << (signal.SIGHUP - 1))
    files = JobFiles("aggregation", pid_dir)
    opened = {os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()}
    regular = {
        path for path in opened if path.startswith("/") and not path.startswith("/dev/")
    }
    assert regular == {str(files.log), str(files.pid)}
    # The command does not inherit the pid file, so the flock dies with the supervisor.
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert len(children) == 1
    child_files = {os.readlink(fd) for fd in Path(f"/proc/{children[0]}/fd").iterdir()}
    assert str(files.pid) not in child_files


def test_start_works_without_path(pid_dir, start_job, monkeypatch):
    """§11 #34: nothing is looked up on PATH."""
    monkeypatch.setenv("PATH", "/nonexistent")
    start_job(steps=2, sleep=0.05)
    final = wait_status(pid_dir, "aggregation", ("completed", "failed"))
    assert final["status"] == "completed", final
    assert final["exit_code"] == 0


def test_previous_log_is_kept(pid_dir, start_job):
    """§11 #34: ``.log.1`` holds the previous run, ``.log`` the new one."""
    start_job(steps=1, sleep=0.01, marker="run one")
    wait_status(pid_dir, "aggregation", "completed")
    wait_for(lambda: not pid_lock_held(JobFiles("aggregation", pid_dir).pid))
    start_job(steps=1, sleep=0.01, marker="run two")
    wait_status(pid_dir, "aggregation", "completed")
    files = JobFiles("aggregation", pid_dir)
    previous = files.previous_log.read_text()
    current = files.log.read_text()
    assert "run one" in previous and "run two" not in previous
    assert "run two" in current and "run one" not in current
    assert current.startswith("# ") and "invenio-community-stats-aggregation" in current
    assert "completed (exit code 0)" in current


def test_second_start_is_refused(pid_dir, start_job):
    """T21: a second start while the first runs exits 1; no second supervisor."""
    first = start_job(steps=100, sleep=0.1)
    wait_status(pid_dir, "aggregation", "running")
    with pytest.raises(JobAlreadyRunningError) as refused:
        start_background("aggregation", child_command(), pid_dir)
    assert refused.value.pid == first.pid
    result = run_cli(
        launch, "invenio-community-stats-aggregation", pid_dir, "--", *child_command()
    )
    assert_one_final_error(result)
    assert (
        f"already running (pid {first.pid}); see `processes status aggregation`"
        in result.stderr
    )
    assert supervisors_for(pid_dir) == [first.pid]
    assert record_of(pid_dir, "aggregation")["pid"] == first.pid


def test_killed_supervisor_is_reported_crashed(pid_dir, start_job):
    """T22: SIGKILL on the supervisor → ``processes status`` says crashed, exit 1."""
    start_job(steps=100, sleep=0.1)
    record = wait_status(pid_dir, "aggregation", "running")
    os.kill(record["pid"], signal.SIGKILL)
    wait_for(lambda: not pid_lock_held(JobFiles("aggregation", pid_dir).pid))
    result = run_cli(processes, "status", "aggregation", "--pid-dir", pid_dir)
    assert_one_final_error(result)
    assert re.search(r"^Status:\s+crashed$", result.stdout, re.M)
    assert "crashed" in result.stderr
    assert record_of(pid_dir, "aggregation")["status"] == "crashed"
    kill_group(record["pgid"])


def test_failure_at_start_shows_log_lines(pid_dir):
    """06 §8.2 step 4: a child that already failed → last log lines, exit 1."""
    command = [
        sys.executable,
        "-c",
        "import sys\nfor i in range(30): print(f'line {i}')\nsys.exit(3)",
    ]
    result = run_cli(launch, "aggregation", pid_dir, "--", *command)
    assert_one_final_error(result)
    assert "line 29" in result.stderr and "line 5\n" not in result.stderr
    assert "exited with code 3" in result.stderr
    final = wait_status(pid_dir, "aggregation", "failed")
    assert final["exit_code"] == 3


@pytest.mark.parametrize("suffix", [".status", ".pid", ".log", ".log.1"])
def test_symlinked_job_file_is_refused(pid_dir, tmp_path, suffix):
    """§11 #36: a symlink planted at a job file → exit 1, the target untouched."""
    pid_dir.mkdir(mode=0o700)
    target = tmp_path / "precious"
    target.write_text("do not touch\n")
    link = pid_dir / f"invenio-community-stats-aggregation{suffix}"
    link.symlink_to(target)
    result = run_cli(launch, "aggregation", pid_dir, "--", *child_command())
    assert_one_final_error(result)
    assert "symbolic link" in result.stderr
    assert target.read_text() == "do not touch\n"
    assert link.is_symlink()
    assert supervisors_for(pid_dir) == []


def test_cancel_stops_the_whole_group(pid_dir, start_job):
    """§11 #35: after ``cancel`` the grandchild ``sleep`` is gone too."""
    start_job(steps=300, sleep=0.1, grandchild=True)
    record = wait_status(pid_dir, "aggregation", "running")
    log = JobFiles("aggregation", pid_dir).log
    grandchild = int(
        wait_for(lambda: re.search(r"grandchild (\d+)", log.read_text()))[1]
    )
    assert process_start_time(grandchild) is not None
    result = run_cli(processes, "cancel", "aggregation", "--pid-dir", pid_dir)
    assert result.exit_code == 0, result.stderr
    assert f"Cancelled aggregation (pid {record['pid']})" in result.stdout
    assert process_start_time(grandchild) is None
    assert process_start_time(record["pid"]) is None
    final = record_of(pid_dir, "aggregation")
    assert final["status"] == "cancelled"
    assert final["exit_code"] == 128 + signal.SIGTERM
    assert "forced" not in final
    assert log.exists()


def test_cancel_escalates_to_sigkill(pid_dir, start_job):
    """06 §8.4 step 3–4: a command ignoring SIGTERM is killed; ``forced: true``."""
    start_job(steps=300, sleep=0.1, ignore_term=True)
    record = wait_status(pid_dir, "aggregation", "running")
    result = run_cli(
        processes, "cancel", "aggregation", "--timeout", "1", "--pid-dir", pid_dir
    )
    assert result.exit_code == 0, result.stderr
    assert "with SIGKILL after 1 s" in result.stdout
    final = record_of(pid_dir, "aggregation")
    assert final["status"] == "cancelled"
    assert final["forced"] is True
    assert process_start_time(record["pid"]) is None


def test_cancel_of_a_finished_job_is_refused(pid_dir, start_job):
    start_job(steps=1, sleep=0.01)
    wait_status(pid_dir, "aggregation", "completed")
    wait_for(lambda: not pid_lock_held(JobFiles("aggregation", pid_dir).pid))
    result = run_cli(processes, "cancel", "aggregation", "--pid-dir", pid_dir)
    assert_one_final_error(result)
    assert "not running" in result.stderr
    assert record_of(pid_dir, "aggregation")["status"] == "completed"


def _fake_running_record(pid_dir, pid, create_time):
    from invenio_stats_dashboard.jobs.files import ensure_pid_dir
    from invenio_stats_dashboard.jobs.status import utc_timestamp, write_status

    files = JobFiles("aggregation", ensure_pid_dir(pid_dir))
    write_status(
        files.status,
        {
            "name": "aggregation",
            "full_name": files.full_name,
            "pid": pid,
            "pgid": pid,
            "create_time": create_time,
            "command": ["/bin/true"],
            "status": "running",
            "exit_code": None,
            "progress": 10.0,
            "current_task": "",
            "counters": {},
            "start_time": utc_timestamp(),
            "end_time": None,
            "log_file": str(files.log),
            "lock_tokens": [],
        },
    )
    return files


@pytest.mark.parametrize("flock_held", [False, True])
def test_unrelated_live_pid_is_not_signalled(pid_dir, flock_held):
    """§11 #35: a record pointing at an unrelated live pid → crashed; cancel refuses."""
    from invenio_stats_dashboard.jobs.pidfile import take_pid_lock

    unrelated = subprocess.Popen(["/bin/sh", "-c", "sleep 60"], start_new_session=True)
    try:
        real_start = wait_for(lambda: process_start_time(unrelated.pid))
        files = _fake_running_record(pid_dir, unrelated.pid, real_start - 3600)
        lock_fd = take_pid_lock(files.pid) if flock_held else None
        try:
            status = run_cli(processes, "status", "aggregation", "--pid-dir", pid_dir)
            assert_one_final_error(status)
            assert re.search(r"^Status:\s+crashed$", status.stdout, re.M)
            assert record_of(pid_dir, "aggregation")["status"] == "crashed"
            _fake_running_record(pid_dir, unrelated.pid, real_start - 3600)
            cancel = run_cli(processes, "cancel", "aggregation", "--pid-dir", pid_dir)
            assert_one_final_error(cancel)
            assert record_of(pid_dir, "aggregation")["status"] == "crashed"
        finally:
            if lock_fd is not None:
                os.close(lock_fd)
        assert unrelated.poll() is None
        assert process_start_time(unrelated.pid) == real_start
    finally:
        unrelated.kill()
        unrelated.wait()


def test_zombie_counts_as_dead(pid_dir):
    """06 §8.3: a zombie with the recorded pid and create_time is not alive."""
    from invenio_stats_dashboard.jobs.pidfile import take_pid_lock

    zombie = subprocess.Popen(["/bin/sh", "-c", "read line"], stdin=subprocess.PIPE)
    started = wait_for(lambda: process_start_time(zombie.pid))
    zombie.stdin.close()  # it exits; not waited for, it stays a zombie
    wait_for(lambda: process_start_time(zombie.pid) is None, message="a zombie")
    files = _fake_running_record(pid_dir, zombie.pid, started)
    lock_fd = take_pid_lock(files.pid)
    try:
        result = run_cli(processes, "status", "aggregation", "--pid-dir", pid_dir)
        assert_one_final_error(result)
        assert record_of(pid_dir, "aggregation")["status"] == "crashed"
    finally:
        os.close(lock_fd)
        zombie.wait()
