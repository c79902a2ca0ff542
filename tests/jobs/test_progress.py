"""Progress on stderr and in the job status file (06 §1 "Progress", §8.2 step 3)."""

import io
import json

import pytest

from invenio_stats_dashboard.jobs import progress as progress_module
from invenio_stats_dashboard.jobs.progress import ProgressBar, format_duration
from invenio_stats_dashboard.jobs.status import STATUS_FILE_ENV


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


def test_plain_output_at_most_every_ten_seconds():
    clock, stream = FakeClock(), io.StringIO()
    with ProgressBar(100, "Backfilling", stream=stream, tty=False, clock=clock) as bar:
        for _ in range(25):
            clock.advance(1)
            bar.update()
    text = stream.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    # one line at 10 s, one at 20 s, and the final state
    assert lines == [
        "Backfilling: 10/100 (10.0%), 1.0/s, ETA 00:01:30",
        "Backfilling: 20/100 (20.0%), 1.0/s, ETA 00:01:20",
        "Backfilling: 25/100 (25.0%), 1.0/s, ETA 00:01:15",
    ]


def test_tty_output_is_a_live_bar():
    clock, stream = FakeClock(), io.StringIO()
    with ProgressBar(2000, "Migrating", stream=stream, tty=True, clock=clock) as bar:
        for _ in range(4):
            clock.advance(0.5)
            bar.update(500)
    text = stream.getvalue()
    assert text.count("\r") >= 4
    assert text.endswith("\n")
    last = text.rstrip("\n").split("\r")[-1].strip()
    assert last.startswith("Migrating: [##############################]")
    assert "2,000/2,000" in last and "100.0%" in last
    assert "1,000.0/s" in last and "ETA 00:00:00" in last


def test_unknown_total_then_set_total():
    clock, stream = FakeClock(), io.StringIO()
    with ProgressBar(None, "Scanning", stream=stream, tty=False, clock=clock) as bar:
        assert bar.percent is None
        clock.advance(11)
        bar.update(3)
        bar.set_total(12)
        assert bar.percent == 25.0
    assert stream.getvalue().splitlines()[0] == "Scanning: 3 done, 0.3/s"


def test_hidden_progress_prints_nothing_but_still_reports(tmp_path):
    clock, stream = FakeClock(), io.StringIO()
    status = tmp_path / "job.status"
    with ProgressBar(
        4, "Quiet", show=False, stream=stream, clock=clock, status_file=status
    ) as bar:
        for _ in range(4):
            clock.advance(20)
            bar.update(counters={"failed": 0})
    assert stream.getvalue() == ""
    record = json.loads(status.read_text())
    assert record["progress"] == 100.0
    assert record["current_task"] == "Quiet"
    assert record["counters"] == {"failed": 0, "done": 4, "total": 4}


def test_status_writes_at_most_once_per_second(tmp_path, monkeypatch):
    writes = []
    real = progress_module.report_status

    def counting(fields, path=None):
        writes.append(dict(fields))
        return real(fields, path)

    monkeypatch.setattr(progress_module, "report_status", counting)
    monkeypatch.setenv(STATUS_FILE_ENV, str(tmp_path / "env.status"))
    clock = FakeClock()
    with ProgressBar(30, "Work", show=False, clock=clock) as bar:
        for step in range(30):
            clock.advance(0.1)
            bar.update(current_task=f"item {step}")
    # start + one per second of the 3 s + the final write
    assert 4 <= len(writes) <= 5
    assert writes[-1]["progress"] == 100.0
    assert writes[-1]["current_task"] == "item 29"
    assert json.loads((tmp_path / "env.status").read_text())["progress"] == 100.0


def test_final_write_even_when_the_loop_fails(tmp_path):
    status = tmp_path / "job.status"
    clock = FakeClock()
    with pytest.raises(RuntimeError):
        with ProgressBar(
            10, "Work", show=False, clock=clock, status_file=status
        ) as bar:
            bar.update(3)
            raise RuntimeError("boom")
    assert json.loads(status.read_text())["progress"] == 30.0


def test_no_status_file_outside_jobs(monkeypatch, tmp_path):
    monkeypatch.delenv(STATUS_FILE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    with ProgressBar(1, "Work", show=False) as bar:
        bar.update()
    assert list(tmp_path.iterdir()) == []


def test_format_duration():
    assert format_duration(0) == "00:00:00"
    assert format_duration(3661) == "01:01:01"
    assert format_duration(90000) == "25:00:00"
