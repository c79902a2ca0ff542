"""``invenio community-stats usage-events generate|generate-background``.

Behaviour 03 §6 (generator rules, test 16 and its must-not row); options, prompt,
output and exit codes 06 §1, §2, §7.2, §8. Commands run in-process through the
``cli`` fixture; the background run uses a real ``invenio`` subprocess on the same
services and search prefix. Expected counts are computed here from the records the
module creates, never from a previous run.
"""

import importlib
import json
from collections import Counter
from datetime import UTC, datetime

import pytest
from helpers.background_jobs import (
    assert_one_final_error,
    pid_dir_fixture,  # noqa: F401 - registers the pid_dir fixture
    wait_status,
)
from helpers.factories import (
    DOWNLOAD,
    VIEW,
    backdate_record,
    file_object,
    make_record,
    make_user,
    search_events,
)
from invenio_search import current_search_client
from invenio_search.utils import prefix_index

from invenio_stats_dashboard.cli import background
from invenio_stats_dashboard.cli import cli as stats_cli
from invenio_stats_dashboard.cli import output as output_module
from invenio_stats_dashboard.usage_events.generation import new_index_body
from invenio_stats_dashboard.usage_events.names import month_index

NAME = "usage-event-generation"
generate_module = importlib.import_module(
    "invenio_stats_dashboard.cli.usage_events.generate"
)
"""The command module (the package attribute ``generate`` is the click command)."""
WINDOW = ["--start-date", "2024-06-01", "--end-date", "2024-06-15"]
"""Record-creation window holding exactly the two records of this module."""
SPEC_RUN = [*WINDOW, "--events-per-record", "50", "--event-end-date", "2024-12-31"]
"""03 test 16: 50 per record, events up to 2024-12-31."""
FILE_FIELDS = {"bucket_id", "file_id", "file_key", "size"}


def usage(*args):
    return ["usage-events", *args]


def all_hits():
    return {t: search_events(t, size=10_000) for t in (VIEW, DOWNLOAD)}


def event_count():
    return sum(len(hits) for hits in all_hits().values())


def event_indices():
    return sorted(
        current_search_client.indices.get(
            index=prefix_index("events-stats-*"),
            expand_wildcards="all",
            allow_no_indices=True,
            ignore_unavailable=True,
        )
    )


def expected_split(created_month, end_month, per_record):
    """Planned events per month, restated: split evenly, remainder first."""
    year, month = map(int, created_month.split("-"))
    months = []
    while f"{year:04d}-{month:02d}" <= end_month:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    base, remainder = divmod(per_record, len(months))
    return {m: base + (1 if i < remainder else 0) for i, m in enumerate(months)}


@pytest.fixture(scope="module")
def owner(running_app):
    return make_user("usage-generate-cli@example.org")


@pytest.fixture(scope="module")
def records(owner):
    """03 test 16: two records with files, created 2024-06-01 and 2024-06-15."""
    first = make_record(owner, title="First", files={"data.csv": 1200, "paper.pdf": 34})
    second = make_record(owner, title="Second", files={"notes.txt": 50})
    first = backdate_record(first, datetime(2024, 6, 1, 0, 0, 0))
    second = backdate_record(second, datetime(2024, 6, 15, 0, 0, 0))
    return [first, second]


@pytest.fixture()
def clean(records, clear_stats_indices):
    """The records, and no event index before or after the test."""
    from helpers.factory_fixtures import delete_stats_indices

    delete_stats_indices()
    return records


# ---------------------------------------------------------------------- generate


def test_help_states_every_option_and_real_defaults(cli):
    """06 §7.2 options table; must-not 24: ``--help`` states the real defaults."""
    result = cli(stats_cli, *usage("generate", "--help"))
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    for option in (
        "--start-date",
        "--end-date",
        "--event-start-date",
        "--event-end-date",
        "--events-per-record",
        "--max-records",
        "--enrich-events",
        "--dry-run",
        "--yes-i-know",
        "--use-migrated-indices",
        "--seed",
    ):
        assert option in text
    assert "Default: the earliest published record." in text
    assert "Default: each record's creation." in text
    assert "Default: now." in text
    assert "[default: 5; x>=1]" in text
    assert "(0 = all)" in text and "[default: 0; x>=0]" in text
    background_help = cli(stats_cli, *usage("generate-background", "--help"))
    assert background_help.exit_code == 0
    assert "--pid-dir" in background_help.stdout
    assert "--dry-run" not in background_help.stdout
    assert "--use-migrated-indices" in background_help.stdout


def test_generate_spec_scenario(cli, clean):
    """03 test 16: exactly 200 indexed, per-month counts equal the planned split,
    timestamps inside the window and not in the future, views without file fields,
    downloads with a real file of their record."""
    result = cli(stats_cli, *usage("generate", *SPEC_RUN, "--yes-i-know"))
    assert result.exit_code == 0, (result.stdout, result.stderr)
    finished = datetime.now(UTC).replace(tzinfo=None)
    assert result.stdout.splitlines()[-1] == "indexed 200, errors 0"
    assert "Planned: 2 records, 100 views, 100 downloads in 7 months" in result.stdout

    hits = all_hits()
    assert len(hits[VIEW]) == 100 and len(hits[DOWNLOAD]) == 100
    expected = Counter()
    for _record in clean:
        expected.update(expected_split("2024-06", "2024-12", 50))
    for stats_type in (VIEW, DOWNLOAD):
        per_month = Counter(h["_source"]["timestamp"][:7] for h in hits[stats_type])
        assert per_month == expected
        cli_type = "view" if stats_type == VIEW else "download"
        for hit in hits[stats_type]:
            assert hit["_index"] == month_index(
                cli_type, hit["_source"]["timestamp"][:7]
            )

    created = {
        r.id: datetime.fromisoformat(r.data["created"]).replace(tzinfo=None)
        for r in clean
    }
    objects = {}
    for stats_type in (VIEW, DOWNLOAD):
        per_record = Counter(h["_source"]["recid"] for h in hits[stats_type])
        assert per_record == {r.id: 50 for r in clean}
        for hit in hits[stats_type]:
            source = hit["_source"]
            moment = datetime.fromisoformat(source["timestamp"])
            assert (
                created[source["recid"]] <= moment <= datetime(2024, 12, 31, 23, 59, 59)
            )
            assert moment <= finished
            if stats_type == VIEW:
                assert not FILE_FIELDS & set(source)
                continue
            key = (source["recid"], source["file_key"])
            if key not in objects:
                record = next(r for r in clean if r.id == source["recid"])
                objects[key] = file_object(record, source["file_key"])
            obj = objects[key]
            assert source["bucket_id"] == str(obj.bucket_id)
            assert source["file_id"] == str(obj.file_id)
            assert source["size"] == obj.file.size
    assert {key[1] for key in objects} <= {"data.csv", "paper.pdf", "notes.txt"}


def test_max_records_caps_the_records_used(cli, clean):
    """Must-not row: ``--max-records 1`` uses exactly one record (the oldest)."""
    result = cli(
        stats_cli, *usage("generate", *SPEC_RUN, "--max-records", "1", "--yes-i-know")
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "indexed 100, errors 0"
    hits = all_hits()
    assert {h["_source"]["recid"] for t in hits for h in hits[t]} == {clean[0].id}
    assert len(hits[VIEW]) == len(hits[DOWNLOAD]) == 50


def test_seed_reproduces_ids(cli, clean):
    """``--seed 7`` twice gives identical ids (the second run overwrites)."""
    arguments = usage(
        "generate", *WINDOW, "--event-end-date", "2024-09-30", "--seed", "7"
    )
    first = cli(stats_cli, *arguments, "--yes-i-know")
    assert first.exit_code == 0, first.stderr
    hits = all_hits()
    ids = {t: {h["_id"] for h in hits[t]} for t in hits}
    timestamps = sorted(h["_source"]["timestamp"] for t in hits for h in hits[t])
    assert len(ids[VIEW]) == len(ids[DOWNLOAD]) == 10
    assert "Seed: 7" in first.stdout

    second = cli(stats_cli, *arguments, "--yes-i-know")
    assert second.exit_code == 0, second.stderr
    again = all_hits()
    assert {t: {h["_id"] for h in again[t]} for t in again} == ids
    assert sorted(h["_source"]["timestamp"] for t in again for h in again[t]) == (
        timestamps
    )

    other = cli(
        stats_cli,
        *usage(
            "generate",
            *WINDOW,
            "--event-end-date",
            "2024-09-30",
            "--seed",
            "8",
            "--yes-i-know",
        ),
    )
    assert other.exit_code == 0, other.stderr
    assert event_count() == 40


def test_random_seed_is_printed(cli, clean):
    result = cli(stats_cli, *usage("generate", *WINDOW, "--dry-run"))
    assert result.exit_code == 0, result.stderr
    (line,) = [x for x in result.stdout.splitlines() if x.startswith("Seed: ")]
    seed = line.split()[1]
    assert line == f"Seed: {seed} (random; repeat with --seed {seed})"


def test_dry_run_writes_nothing(cli, clean):
    before = event_indices()
    result = cli(stats_cli, *usage("generate", *SPEC_RUN, "--dry-run"))
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "Dry run: built 100 views and 100 downloads; nothing written." in (
        result.stdout
    )
    assert result.stdout.splitlines()[-1] == "indexed 0, errors 0"
    assert event_indices() == before == []


def test_declined_prompt_writes_nothing(cli, clean, monkeypatch):
    """06 §1: declining exits 1 and changes nothing."""
    monkeypatch.setattr(output_module, "stdin_is_interactive", lambda: True)
    result = cli(stats_cli, *usage("generate", *WINDOW), input="n\n")
    assert_one_final_error(result)
    assert "Write 20 synthetic events?" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: refused: not confirmed; nothing changed"
    )
    assert event_indices() == []

    accepted = cli(stats_cli, *usage("generate", *WINDOW), input="y\n")
    assert accepted.exit_code == 0, accepted.stderr
    assert accepted.stdout.splitlines()[-1] == "indexed 20, errors 0"


def test_non_interactive_without_flag_refuses(cli, clean):
    """06 §1: a non-interactive stdin without the flag does not wait: exit 1."""
    result = cli(stats_cli, *usage("generate", *WINDOW))
    assert_one_final_error(result)
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: confirmation required; re-run with --yes-i-know"
    )
    assert event_indices() == []


def test_enriched_month_refuses_unenriched_events(cli, clean, base_app):
    """03 §6: unenriched events never go into a month whose index carries the
    marker; nothing at all is written (not even the other months)."""
    prefix = base_app.config["SEARCH_INDEX_PREFIX"]
    enriched = month_index("download", "2024-09")
    current_search_client.indices.create(
        index=enriched, body=new_index_body("file-download", prefix, True)
    )
    result = cli(stats_cli, *usage("generate", *SPEC_RUN, "--yes-i-know"))
    assert_one_final_error(result)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"Error: refused: {enriched} holds enriched events")
    assert last.endswith("nothing written")
    assert event_indices() == [enriched]
    assert event_count() == 0

    with_enrichment = cli(
        stats_cli, *usage("generate", *SPEC_RUN, "--enrich-events", "--yes-i-know")
    )
    assert with_enrichment.exit_code == 0, with_enrichment.stderr
    hits = all_hits()
    assert len(hits[VIEW]) + len(hits[DOWNLOAD]) == 200
    assert all("community_ids" in h["_source"] for t in hits for h in hits[t])


@pytest.mark.parametrize("command", ["generate", "generate-background"])
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--start-date", "2024-13-01"], "--start-date"),
        (["--end-date", "2024-02-30"], "--end-date"),
        (["--event-start-date", "20240101"], "expected YYYY-MM-DD"),
        (["--event-end-date", "yesterday"], "--event-end-date"),
        (["--start-date", "2024-02-02", "--end-date", "2024-02-01"], "is after"),
        (
            ["--event-start-date", "2024-05-02", "--event-end-date", "2024-05-01"],
            "is after",
        ),
        (["--events-per-record", "0"], "--events-per-record"),
        (["--max-records", "-1"], "--max-records"),
        (["--seed", "x"], "--seed"),
    ],
)
def test_bad_input_exits_2(cli, clean, pid_dir, command, arguments, message):
    """06 §1–§2: usage errors exit 2 naming the option; nothing written or spawned."""
    if command == "generate-background":
        arguments = [*arguments, "--pid-dir", str(pid_dir)]
    result = cli(stats_cli, *usage(command, *arguments, "--yes-i-know"))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ") and message in last, result.stderr
    assert event_indices() == []
    assert not pid_dir.exists() or not any(pid_dir.iterdir())


# ------------------------------------------------------------------- background


@pytest.fixture()
def captured_starts(monkeypatch):
    """Record the child argv instead of spawning (the parent's side only)."""
    starts = []
    monkeypatch.setattr(
        background,
        "run_background",
        lambda name, argv, pid_dir: starts.append((name, argv, pid_dir)),
    )
    return starts


def test_background_prompts_in_the_parent(
    cli, clean, pid_dir, captured_starts, monkeypatch
):
    """06 §7.2: the prompt is asked in the parent and the child gets
    ``--yes-i-know``; declining or no terminal spawns nothing."""
    arguments = usage(
        "generate-background",
        *WINDOW,
        "--use-migrated-indices",
        "--seed",
        "7",
        "--pid-dir",
        str(pid_dir),
    )
    refused = cli(stats_cli, *arguments)
    assert_one_final_error(refused)
    assert refused.stderr.strip().splitlines()[-1] == (
        "Error: confirmation required; re-run with --yes-i-know"
    )
    monkeypatch.setattr(output_module, "stdin_is_interactive", lambda: True)
    declined = cli(stats_cli, *arguments, input="n\n")
    assert_one_final_error(declined)
    assert captured_starts == []

    accepted = cli(stats_cli, *arguments, input="y\n")
    assert accepted.exit_code == 0, accepted.stderr
    ((name, argv, used_dir),) = captured_starts
    assert name == NAME
    assert str(used_dir) == str(pid_dir)
    assert argv[1:3] == ["-m", "invenio_stats_dashboard.cli"]
    assert argv[3:] == [
        "usage-events",
        "generate",
        *WINDOW,
        "--use-migrated-indices",
        "--seed",
        "7",
        "--yes-i-know",
    ]
    assert event_indices() == []


def test_background_rejects_dry_run(cli, clean, pid_dir, captured_starts):
    result = cli(
        stats_cli,
        *usage("generate-background", "--dry-run", "--pid-dir", str(pid_dir)),
    )
    assert result.exit_code == 2
    assert "--dry-run" in result.stderr
    assert captured_starts == []


def test_generate_background_runs_the_command(cli, cli_process, clean, pid_dir):
    """06 §8: a detached ``usage-event-generation`` job runs ``generate`` with every
    given option (``--use-migrated-indices`` and ``--seed`` included) and ends
    completed; its log holds the report."""
    started = cli_process(
        "invenio",
        "community-stats",
        *usage(
            "generate-background",
            *SPEC_RUN,
            "--use-migrated-indices",
            "--seed",
            "7",
            "--yes-i-know",
            "--pid-dir",
            str(pid_dir),
        ),
    )
    assert started.returncode == 0, (started.stdout, started.stderr)
    assert "Started usage-event-generation in the background." in started.stdout
    final = wait_status(pid_dir, NAME, ("completed", "failed"), timeout=120)
    log_text = (pid_dir / f"invenio-community-stats-{NAME}.log").read_text()
    assert final["status"] == "completed", log_text
    assert final["exit_code"] == 0
    tail = [
        "usage-events",
        "generate",
        *SPEC_RUN,
        "--use-migrated-indices",
        "--seed",
        "7",
        "--yes-i-know",
    ]
    assert final["command"][-len(tail) :] == tail
    assert "indexed 200, errors 0" in log_text
    assert "Generating: 200/200 (100.0%)" in log_text
    assert "\r" not in log_text
    hits = all_hits()
    assert len(hits[VIEW]) == len(hits[DOWNLOAD]) == 100
    # Migrated indices imply enrichment.
    assert all("community_ids" in h["_source"] for t in hits for h in hits[t])

    shown = cli(
        stats_cli, "processes", "status", NAME, "--pid-dir", str(pid_dir), "--json"
    )
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout)["status"] == "completed"
