"""``community-stats processes``: status, cancel, list (06 §8.3–§8.5, §11 #32–33).

The group needs no app, so it is invoked through the real root group with click's
runner; one test runs it in a real ``invenio`` process.
"""

import json
import re
import shlex
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers.background_jobs import (
    assert_one_final_error,
    child_command,
    pid_dir_fixture,  # noqa: F401 - registers the pid_dir fixture
    record_of,
    wait_status,
)

from invenio_stats_dashboard.cli import cli
from invenio_stats_dashboard.cli.background import (
    background_command,
    forwarded_args,
    run_background,
)
from invenio_stats_dashboard.cli.processes import list_processes, processes
from invenio_stats_dashboard.jobs.files import JobFiles, ensure_pid_dir
from invenio_stats_dashboard.jobs.names import PROCESS_NAMES
from invenio_stats_dashboard.jobs.status import write_status


def invoke(*args, env=None):
    return CliRunner().invoke(cli, [str(arg) for arg in args], env=env)


def finished_job(pid_dir, name="aggregation", exit=0, steps=2):
    """Run a real job to its end; return its record."""
    import click

    @click.command()
    def start():
        run_background(name, child_command(steps=steps, sleep=0.05, exit=exit), pid_dir)

    CliRunner().invoke(start, [])
    return wait_status(pid_dir, name, ("completed", "failed"))


def test_group_runs_without_an_app(pid_dir):
    """06 §1: no app, no services; ``list`` exits 0 on an empty directory."""
    result = invoke("processes", "list", "--pid-dir", pid_dir)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"No background processes in {pid_dir}.\n"


def test_status_of_a_completed_job(pid_dir):
    record = finished_job(pid_dir)
    result = invoke("processes", "status", "aggregation", "--pid-dir", pid_dir)
    assert result.exit_code == 0, result.stderr
    fields = dict(
        re.match(r"([A-Za-z ]+):\s+(.*)", line).groups()
        for line in result.stdout.splitlines()
    )
    assert fields["Name"] == "aggregation (invenio-community-stats-aggregation)"
    assert fields["PID"] == str(record["pid"])
    assert fields["Status"] == "completed"
    assert re.fullmatch(r"\d\d:\d\d:\d\d", fields["Runtime"])
    assert fields["Progress"] == "[" + "#" * 50 + "] 100.0%"
    assert fields["Current task"] == "step 1"
    assert fields["Command"] == shlex.join(record["command"]).replace("\n", "\\n")
    assert re.fullmatch(r"\d+ s ago", fields["Last update"])
    assert fields["Exit code"] == "0"
    assert result.stderr == ""


def test_status_json_and_full_name(pid_dir):
    record = finished_job(pid_dir, name="cache-generation")
    result = invoke(
        "processes",
        "status",
        "invenio-community-stats-cache-generation",
        "--json",
        "--show-log",
        "--log-lines",
        "2",
        "--pid-dir",
        pid_dir,
    )
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    for key in (
        "name",
        "full_name",
        "pid",
        "pgid",
        "create_time",
        "command",
        "status",
        "exit_code",
        "progress",
        "current_task",
        "counters",
        "start_time",
        "last_update",
        "end_time",
        "log_file",
        "lock_tokens",
    ):
        assert key in document, key
    assert document["pid"] == record["pid"]
    assert document["status"] == "completed"
    assert len(document["log_lines"]) == 2
    assert "completed (exit code 0)" in document["log_lines"][-1]


def test_status_of_a_failed_job_exits_1(pid_dir):
    finished_job(pid_dir, exit=4)
    result = invoke("processes", "status", "aggregation", "--pid-dir", pid_dir)
    assert_one_final_error(result)
    assert re.search(r"^Exit code:\s+4$", result.stdout, re.M)
    assert "failed" in result.stderr


def test_status_show_log(pid_dir):
    finished_job(pid_dir, steps=1)
    result = invoke(
        "processes", "status", "aggregation", "--show-log", "--pid-dir", pid_dir
    )
    assert result.exit_code == 0
    log_lines = JobFiles("aggregation", pid_dir).log.read_text().splitlines()
    assert result.stdout.endswith("".join(f"  {line}\n" for line in log_lines[-20:]))


@pytest.mark.parametrize("command", ["status", "cancel"])
def test_missing_record(pid_dir, command):
    result = invoke("processes", command, "--pid-dir", pid_dir)
    assert_one_final_error(result)
    assert "event-migration" in result.stderr  # the default name
    if command == "status":
        json_result = invoke("processes", "status", "--json", "--pid-dir", pid_dir)
        assert_one_final_error(json_result)
        assert json.loads(json_result.stdout) is None


@pytest.mark.parametrize(
    "args",
    [
        ("processes", "status", "bogus"),
        ("processes", "cancel", "bogus"),
        ("processes", "status", "aggregation", "--log-lines", "0"),
        ("processes", "cancel", "aggregation", "--timeout", "-1"),
    ],
)
def test_usage_errors_exit_2(args):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    if "bogus" in args:
        for name in PROCESS_NAMES:
            assert name in result.stderr


def test_list_rows_are_usable_by_status(pid_dir):
    """§11 #33: every listed name finds its record with ``status``."""
    finished_job(pid_dir, name="aggregation")
    finished_job(pid_dir, name="event-migration", exit=1)
    (pid_dir / "celery-beat.pid").write_text("1\n")
    (pid_dir / "invenio-community-stats-unknown.pid").write_text("1\n")
    result = invoke("processes", "list", "--pid-dir", pid_dir)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "PID", "STARTED", "PROGRESS"]
    assert lines[1].split()[:2] == ["aggregation", "completed"]
    assert lines[2].split()[:2] == ["event-migration", "failed"]
    assert lines[3] == f"{'celery-beat.pid':<27} not managed by community-stats"
    assert lines[4].startswith("invenio-community-stats-unknown.pid ")
    as_json = json.loads(
        invoke("processes", "list", "--json", "--pid-dir", pid_dir).stdout
    )
    assert [row["name"] for row in as_json["processes"]] == [
        "aggregation",
        "event-migration",
    ]
    assert as_json["foreign"] == [
        "celery-beat.pid",
        "invenio-community-stats-unknown.pid",
    ]
    for row in as_json["processes"]:
        status = invoke(
            "processes", "status", row["name"], "--json", "--pid-dir", pid_dir
        )
        assert json.loads(status.stdout)["pid"] == row["pid"]
    package_only = invoke("processes", "list", "--package-only", "--pid-dir", pid_dir)
    assert "not managed" not in package_only.stdout
    assert package_only.exit_code == 0


def test_list_reports_crashed_records(pid_dir):
    files = JobFiles("aggregation", ensure_pid_dir(pid_dir))
    write_status(
        files.status,
        {
            "name": "aggregation",
            "status": "running",
            "pid": 999999999,
            "create_time": 1,
        },
    )
    result = invoke("processes", "list", "--json", "--pid-dir", pid_dir)
    assert json.loads(result.stdout)["processes"][0]["status"] == "crashed"
    assert record_of(pid_dir, "aggregation")["status"] == "crashed"


def test_pid_dir_from_environment(pid_dir):
    finished_job(pid_dir)
    result = invoke(
        "processes",
        "status",
        "aggregation",
        env={"COMMUNITY_STATS_PID_DIR": str(pid_dir)},
    )
    assert result.exit_code == 0, result.stderr


def test_start_hints_name_real_commands(pid_dir):
    """§11 #32: every hinted command runs with ``--help`` and exits 0."""
    import click

    @click.command()
    def start():
        run_background("aggregation", child_command(steps=1, sleep=0.01), pid_dir)

    result = CliRunner().invoke(start, [])
    assert result.exit_code == 0, result.stderr
    for label in ("Name", "PID", "Log file", "Status file", "PID file", "Command"):
        assert re.search(rf"^  {label}:", result.stdout, re.M), label
    hints = [
        line.strip()
        for line in result.stdout.splitlines()
        if line.strip().startswith("invenio community-stats ")
    ]
    assert len(hints) == 3
    wait_status(pid_dir, "aggregation", "completed")
    for hint in hints:
        args = shlex.split(hint)[2:]
        assert invoke(*args, "--help").exit_code == 0, hint
        ran = invoke(*args)
        if "cancel" in args:
            assert "not running" in ran.stderr  # it found the record
        else:
            assert ran.exit_code == 0, (hint, ran.stderr)


# -- *-background commands -------------------------------------------------------


def test_forwarded_args_keep_flags_and_drop_pid_dir():
    """§11 #18: flags are forwarded as flags, never ``True``; --pid-dir is dropped."""
    import click

    @click.command("fg")
    @click.option("--show-progress/--no-show-progress", default=True)
    @click.option("--label")
    @click.option("-m", "--months", multiple=True)
    @click.option("--pair", nargs=2)
    def foreground(**params):
        pass

    background = background_command(foreground, "aggregation")
    raw = [
        "--no-show-progress",
        "--pid-dir",
        "/x",
        "--label",
        "--pid-dir",
        "-m2024-01",
        "--months",
        "2024-02:2024-03",
        "--pid-dir=/y",
        "--pair",
        "a",
        "--pid-dir",
    ]
    forwarded = forwarded_args(background, raw)
    assert forwarded == [
        "--no-show-progress",
        "--label",
        "--pid-dir",
        "-m2024-01",
        "--months",
        "2024-02:2024-03",
        "--pair",
        "a",
        "--pid-dir",
    ]
    parsed = foreground.make_context("fg", forwarded).params
    assert parsed == {
        "show_progress": False,
        "label": "--pid-dir",
        "months": ("2024-01", "2024-02:2024-03"),
        "pair": ("a", "--pid-dir"),
    }


def test_background_command_runs_the_foreground_in_a_child(pid_dir):
    """06 §8.2: the child is ``python -m invenio_stats_dashboard.cli …`` with the
    options exactly as typed; it runs and its end is recorded."""
    background = background_command(
        list_processes, "aggregation", name="list-background"
    )
    # ``list`` has a --pid-dir of its own: kept once, and forwarded.
    assert [p.name for p in background.params].count("pid_dir") == 1
    processes.add_command(background)
    try:
        result = invoke(
            "processes",
            "list-background",
            "--package-only",
            "--json",
            "--pid-dir",
            pid_dir,
        )
        assert result.exit_code == 0, result.stderr
        final = wait_status(pid_dir, "aggregation", ("completed", "failed"), timeout=60)
    finally:
        processes.commands.pop("list-background")
    assert final["command"] == [
        sys.executable,
        "-m",
        "invenio_stats_dashboard.cli",
        "processes",
        "list",
        "--package-only",
        "--json",
        "--pid-dir",
        str(pid_dir),
    ]
    assert final["status"] == "completed", JobFiles(
        "aggregation", pid_dir
    ).log.read_text()
    assert final["exit_code"] == 0
    log = JobFiles("aggregation", pid_dir).log.read_text()
    assert '"foreign": []' in log


def test_background_usage_error_spawns_nothing(pid_dir):
    import click

    @click.command("fg")
    @click.option("--count", type=click.IntRange(1, 10))
    def foreground(count):
        pass

    background = background_command(foreground, "aggregation")
    result = CliRunner().invoke(
        background, ["--count", "11", "--pid-dir", str(pid_dir)]
    )
    assert result.exit_code == 2
    assert not Path(pid_dir).exists()


@pytest.mark.subprocess
def test_processes_in_a_real_invenio_process(cli_process, pid_dir):
    """06 §1: ``invenio community-stats processes`` works in a real process."""
    finished_job(pid_dir)
    result = cli_process(
        "invenio",
        "community-stats",
        "processes",
        "list",
        "--json",
        "--pid-dir",
        str(pid_dir),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["processes"][0]["name"] == "aggregation"
    status = cli_process(
        "community-stats",
        "processes",
        "status",
        "aggregation",
        "--pid-dir",
        str(pid_dir),
    )
    assert status.returncode == 0, status.stderr
    assert "completed" in status.stdout
