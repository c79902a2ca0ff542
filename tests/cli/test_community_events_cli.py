"""``invenio community-stats community-events generate|status|generate-background``.

Behaviour 02 §5–§6, options and output 06 §1, §2, §6, must-not rows 06 §11 #1, #14,
#15. Commands run in-process through the ``cli`` fixture, except where a real process
matters: the master switch (read at app start), ``generate-background``, and the
SIGKILL and SIGTERM of a running ``generate`` (02 test 18, 06 §1), which use
``invenio`` subprocesses on the same services, search prefix and lock prefix.
Records are made through the services with the live writers switched off, so the log
starts empty; expected documents are derived from the records index.
"""

import json
import os
import signal
import socket
import time
import uuid
from collections import Counter
from copy import deepcopy

import pytest
import redis
from helpers.background_jobs import (
    assert_one_final_error,
    pid_dir_fixture,  # noqa: F401 - registers the pid_dir fixture
    wait_for,
    wait_status,
)
from helpers.community_event_log import (
    ADDED,
    GLOBAL,
    alias,
    cid,
    clear_log,
    delete_synthetic_versions,
    fmt,
    index_synthetic_versions,
    log_count,
    log_hits,
    marker,
    prefixed_indices,
    records_write_index,
    to_utc,
    triples,
)
from helpers.factories import (
    backdate_community,
    backdate_record,
    bulk_add,
    get_indexed_record,
    make_community,
    make_record,
    make_user,
)
from helpers.factory_fixtures import delete_stats_indices
from helpers.processes import (
    start_command,
    write_instance_config,
)
from invenio_search import current_search_client
from invenio_search.utils import prefix_index
from opensearchpy.exceptions import TransportError

from invenio_stats_dashboard import config as default_config
from invenio_stats_dashboard.cli import cli as stats_cli
from invenio_stats_dashboard.locks import cache_redis_url, lock_key, task_lock
from invenio_stats_dashboard.proxies import current_community_stats_service

LOCK_NAME = "community_stats_community_events"
STATUS_KEYS = {
    "total_records",
    "records_needing_events",
    "total_events_needed",
    "community_breakdown",
    "communities_checked",
    "stale_memberships",
    "deletion_flag_mismatches",
    "initialized",
    "initialized_at",
    "live_tracking_active",
    "live_tracking_reason",
}
"""02 §5: the keys of ``count_records_needing_events``."""
NEXT_STEPS = ("community-events status", "usage-events migrate", "aggregate")
"""06 §10: the steps after the backfill, hinted once their commands exist."""


def assert_hints_run(line, cli):
    """06 §11 item 32: the hint names the next steps, and every one of them runs."""
    assert line.startswith("Next: invenio community-stats community-events status")
    hinted = [h.removeprefix("invenio community-stats ") for h in line[6:].split("; ")]
    assert hinted == [step for step in NEXT_STEPS if step in hinted]
    for command in hinted:
        result = cli(stats_cli, *command.split(), "--help")
        assert result.exit_code == 0, command


# ----------------------------------------------------------------------- helpers


def events(*args):
    return ["community-events", *args]


def pairs_of(records, scopes):
    return {(r.id, scope, ADDED) for r in records for scope in scopes}


def written_pairs():
    found = triples(log_hits())
    assert max(found.values(), default=1) == 1, found
    return set(found)


def expected_dates(records):
    """``{(record, scope, added): created}`` from the records index (no requests,
    communities created before the records)."""
    expected = {}
    for record in records:
        source = get_indexed_record(record)
        scopes = [GLOBAL, *(source["parent"]["communities"].get("ids") or [])]
        for scope in scopes:
            expected[(record.id, scope, ADDED)] = fmt(to_utc(source["created"]))
    return expected


def stdout_lines(result):
    return result.stdout.splitlines()


def redis_client(app):
    return redis.Redis.from_url(cache_redis_url(app.config))


def backfill_lock_key(app):
    """``<STATS_CACHE_PREFIX>-lock:community_stats_community_events`` of the app."""
    return lock_key(app.config["STATS_CACHE_PREFIX"], LOCK_NAME)


def wait_first_chunk(process):
    """Poll the log until the process has written something; return the count."""

    def written():
        try:
            found = log_count()
        except TransportError as error:
            if error.status_code != 503:  # the yearly index is being created
                raise
            found = 0
        if not found and process.poll() is not None:
            pytest.fail(f"generate ended before writing: {process.communicate()}")
        return found

    return wait_for(written, timeout=120, interval=0.02, message="the first chunk")


def short_lease_locks(lease):
    """``STATS_DASHBOARD_LOCK_CONFIG`` with a ``lease``-second backfill lock."""
    locks = deepcopy(default_config.STATS_DASHBOARD_LOCK_CONFIG)
    locks["community_events"]["lock_timeout"] = lease
    return locks


# ----------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def owner(running_app):
    return make_user("ce-cli-owner@example.org")


@pytest.fixture()
def two_communities(log, owner):
    """Three records, all in C and D (created before the records)."""
    c = make_community(owner, f"cli-c-{uuid.uuid4().hex[:6]}")
    d = make_community(owner, f"cli-d-{uuid.uuid4().hex[:6]}")
    records = [make_record(owner) for _ in range(3)]
    bulk_add(c, records)
    bulk_add(d, records)
    return c, d, records


# ---------------------------------------------------------------- generate


def test_help_lists_every_option(cli):
    """06 §6: each command's options, with the progress default shown."""
    generate = cli(stats_cli, *events("generate", "--help"))
    assert generate.exit_code == 0
    for option in (
        "--community-id",
        "--record-ids",
        "--start-date",
        "--end-date",
        "--show-progress / --no-show-progress",
    ):
        assert option in generate.stdout
    assert "[default: show-progress]" in generate.stdout
    status = cli(stats_cli, *events("status", "--help"))
    assert status.exit_code == 0
    for option in ("--community-details", "--json", "--record-ids"):
        assert option in status.stdout
    background = cli(stats_cli, *events("generate-background", "--help"))
    assert background.exit_code == 0
    assert "--pid-dir" in background.stdout
    assert "/tmp" in background.stdout


def test_generate_writes_reports_and_reruns(cli, log, only_new_records, owner):
    """02 §6: filters, counts, report, hints; then the marker; a re-run says nothing
    is missing and exits 0 without writing."""
    community = make_community(owner, f"cli-g-{uuid.uuid4().hex[:6]}")
    records = [make_record(owner) for _ in range(2)]
    bulk_add(community, records[:1])
    expected = expected_dates(records)
    assert len(expected) == 3

    result = cli(stats_cli, *events("generate", "--no-show-progress"))
    assert result.exit_code == 0, result.stderr
    lines = stdout_lines(result)
    assert lines[0] == (
        "Filters: communities: all + global; records: all; "
        "created from: earliest record; created to: today"
    )
    assert lines[1] == (
        "Versions needing events: 2 of 2; events needed: 3; stale memberships: 0; "
        "deletion flags to fix: 0"
    )
    assert lines[2:6] == [
        "Versions processed: 2",
        "Events written: 3 (added 3, removed 0)",
        "Memberships already present: 0",
        "Deletion flags fixed: 0",
    ]
    assert lines[6].startswith("Duration: ")
    assert_hints_run(lines[-1], cli)
    assert result.stderr == ""
    hits = log_hits()
    assert len(hits) == 3
    assert {
        (h["_source"]["record_id"], h["_source"]["community_id"], ADDED): (
            h["_source"]["event_date"]
        )
        for h in hits
    } == expected
    assert marker() is not None

    again = cli(stats_cli, *events("generate", "--no-show-progress"))
    assert again.exit_code == 0, again.stderr
    assert stdout_lines(again)[1].startswith("Versions needing events: 0 of 2; ")
    assert stdout_lines(again)[-1] == "All records already have events."
    assert log_count() == 3


def test_generate_filters(cli, two_communities):
    """02 §6, 06 §6 and §11 #14: ``--record-ids`` repeatable and comma-separated;
    ``--community-id`` by slug or UUID restricts to that community (no D, no
    ``global``); ``global`` only when named."""
    c, d, records = two_communities
    r1, r2, r3 = records
    all_scopes = (GLOBAL, cid(c), cid(d))

    result = cli(stats_cli, *events("generate", "--record-ids", f"{r1.id},{r2.id}"))
    assert result.exit_code == 0, result.stderr
    assert written_pairs() == pairs_of([r1, r2], all_scopes)
    clear_log()

    result = cli(
        stats_cli,
        *events("generate", "--record-ids", r1.id, "--record-ids", f" {r3.id} "),
    )
    assert result.exit_code == 0, result.stderr
    assert written_pairs() == pairs_of([r1, r3], all_scopes)
    clear_log()

    ids = f"{r1.id},{r2.id},{r3.id}"
    by_slug = cli(
        stats_cli,
        *events("generate", "--record-ids", ids, "--community-id", c.data["slug"]),
    )
    assert by_slug.exit_code == 0, by_slug.stderr
    assert f"communities: {cid(c)};" in by_slug.stdout
    slug_pairs = written_pairs()
    assert slug_pairs == pairs_of(records, [cid(c)])
    clear_log()
    by_uuid = cli(
        stats_cli, *events("generate", "--record-ids", ids, "--community-id", cid(c))
    )
    assert by_uuid.exit_code == 0, by_uuid.stderr
    assert written_pairs() == slug_pairs
    clear_log()

    named = cli(
        stats_cli,
        *events(
            "generate",
            "--record-ids",
            ids,
            "--community-id",
            "global",
            "--community-id",
            d.data["slug"],
        ),
    )
    assert named.exit_code == 0, named.stderr
    assert written_pairs() == pairs_of(records, [GLOBAL, cid(d)])


def test_generate_date_window(cli, two_communities):
    """02 §6: ``--start-date``/``--end-date`` select versions by ``created`` day."""
    from datetime import UTC, datetime

    c, d, records = two_communities
    r1, r2, r3 = records
    backdate_record(r1, datetime(2021, 6, 1, 23, 59, 59, 999000, tzinfo=UTC))
    backdate_record(r2, datetime(2021, 6, 2, 0, 0, 0, tzinfo=UTC))
    backdate_record(r3, datetime(2021, 6, 3, 0, 0, 0, tzinfo=UTC))
    result = cli(
        stats_cli,
        *events(
            "generate",
            "--start-date",
            "2021-06-02",
            "--end-date",
            "2021-06-02",
            "--no-show-progress",
        ),
    )
    assert result.exit_code == 0, result.stderr
    assert "created from: 2021-06-02; created to: 2021-06-02" in result.stdout
    assert written_pairs() == pairs_of([r2], (GLOBAL, cid(c), cid(d)))


@pytest.mark.parametrize("command", ["generate", "status", "generate-background"])
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--community-id", "no-such-community"],
            "unknown community: no-such-community",
        ),
        (["--record-ids", "{record},nope-00000"], "unknown record id(s): nope-00000"),
        (["--start-date", "2024-13-01"], "--start-date"),
        (["--end-date", "2024-02-30"], "--end-date"),
        (["--start-date", "20240101"], "expected YYYY-MM-DD"),
        (["--start-date", "2024-02-02", "--end-date", "2024-02-01"], "is after"),
    ],
    ids=["community", "record", "month-13", "feb-30", "format", "start-after-end"],
)
def test_bad_input_exits_2(cli, log, owner, pid_dir, command, arguments, message):
    """02 test 16, 06 §1–§2 and §11 #1: a usage error exits 2 with one final
    ``Error:`` line naming the problem, before anything is written or spawned."""
    record = make_record(owner)
    assert cli(stats_cli, *events("generate", "--record-ids", record.id)).exit_code == 0
    count = log_count()
    indices = prefixed_indices()
    arguments = [a.replace("{record}", record.id) for a in arguments]
    if command == "generate-background":
        arguments += ["--pid-dir", str(pid_dir)]
    result = cli(stats_cli, *events(command, *arguments))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ") and message in last, result.stderr
    assert [
        line for line in result.stderr.splitlines() if line.startswith("Error")
    ] == [last]
    assert log_count() == count
    assert prefixed_indices() == indices
    assert not pid_dir.exists() or not any(pid_dir.iterdir())


def test_disabled_extension_exits_1(cli_process, log, owner, pid_dir):
    """06 §1 master switch, 02 test 16: with ``COMMUNITY_STATS_ENABLED = False`` (read
    at app start, so in a real process) every community-events command exits 1 with
    one line, and nothing is written or spawned."""
    make_record(owner)
    for arguments in (
        ["generate"],
        ["status", "--json"],
        ["generate-background", "--pid-dir", str(pid_dir)],
    ):
        result = cli_process(
            "invenio",
            "community-stats",
            *events(*arguments),
            config={"COMMUNITY_STATS_ENABLED": False},
        )
        assert result.returncode == 1, (result.stdout, result.stderr)
        errors = [
            line for line in result.stderr.splitlines() if line.startswith("Error:")
        ]
        assert errors == [
            "Error: refused: invenio-stats-dashboard is disabled "
            "(COMMUNITY_STATS_ENABLED is False)"
        ]
        assert result.stderr.strip().splitlines()[-1] == errors[0]
        assert result.stdout == ""
    assert log_count() == 0
    assert marker() is None
    assert not pid_dir.exists() or not any(pid_dir.iterdir())


@pytest.mark.parametrize("holder", ["task_lock", "raw"])
def test_lock_held_refuses(cli, base_app, log, owner, holder):
    """02 §5 step 1, must-not "random ids let concurrent runs duplicate": while
    another run holds the backfill lock, generate exits 1 naming the holder and
    writes nothing."""
    make_record(owner)
    client = redis_client(base_app)
    key = backfill_lock_key(base_app)
    try:
        if holder == "task_lock":
            with task_lock("community_events") as lock:
                assert lock.key == key
                token = json.loads(client.get(key))
                result = cli(stats_cli, *events("generate", "--no-show-progress"))
            expected = (
                f"Error: refused: lock {LOCK_NAME} held by "
                f"{socket.gethostname()}:{os.getpid()} since {token['since']}"
            )
            assert token["pid"] == os.getpid()
        else:
            client.set(key, "another-process", px=60_000)
            result = cli(stats_cli, *events("generate", "--no-show-progress"))
            expected = (
                f"Error: refused: lock {LOCK_NAME} held by unknown:unknown "
                "since unknown"
            )
            assert client.get(key) == b"another-process"  # not released by us
    finally:
        if holder == "raw":
            client.delete(key)
        client.close()
    assert_one_final_error(result, code=1)
    assert result.stderr.strip().splitlines()[-1] == expected
    assert log_count() == 0
    assert marker() is None
    # once free, the same command works
    again = cli(stats_cli, *events("generate", "--no-show-progress"))
    assert again.exit_code == 0, again.stderr
    assert log_count() > 0


def test_progress_shown_and_hidden(cli, log, owner):
    """06 §11 #15: ``--show-progress`` (the default) shows progress on stderr,
    ``--no-show-progress`` none. Off a TTY it is one plain line per bar."""
    record = make_record(owner)
    shown = cli(stats_cli, *events("generate", "--record-ids", record.id))
    assert shown.exit_code == 0, shown.stderr
    assert "Counting: 1/1 (100.0%)" in shown.stderr
    assert "Generating: 1/1 (100.0%)" in shown.stderr
    assert "\r" not in shown.stderr
    clear_log()
    flag = cli(
        stats_cli, *events("generate", "--record-ids", record.id, "--show-progress")
    )
    assert "Generating: 1/1 (100.0%)" in flag.stderr
    clear_log()
    hidden = cli(
        stats_cli, *events("generate", "--record-ids", record.id, "--no-show-progress")
    )
    assert hidden.exit_code == 0, hidden.stderr
    assert hidden.stderr == ""
    assert "Versions processed: 1" in hidden.stdout
    assert log_count() == 1


def test_failed_version_exits_1_without_marker(cli, log, only_new_records, owner):
    """02 §5: a version that fails is listed, the run continues, exits 1 with one
    ``Error: failed`` line, and the completion marker is not written. A re-run, with
    nothing else missing, still fails on that version (it is not "complete")."""
    record = make_record(owner)
    bad_id = f"broken-{uuid.uuid4().hex[:6]}"
    current_search_client.index(
        index=records_write_index(),
        body={"id": bad_id, "parent": {"id": f"{bad_id}-parent"}},
        refresh=True,
    )
    try:
        result = cli(stats_cli, *events("generate", "--no-show-progress"))
        again = cli(stats_cli, *events("generate", "--no-show-progress"))
        status = json.loads(cli(stats_cli, *events("status", "--json")).stdout)
    finally:
        delete_synthetic_versions(bad_id)
    for run in (result, again):
        assert_one_final_error(run, code=1)
        assert run.stderr.strip().splitlines()[-1] == (
            "Error: failed: 1 version(s) could not be written"
        )
        assert f"  {bad_id}: bad record: " in run.stderr
        assert "Versions processed: 2" in run.stdout
    assert "Memberships already present: 1" in again.stdout
    assert written_pairs() == {(record.id, GLOBAL, ADDED)}
    assert status["initialized"] is False
    assert marker() is None


def test_failed_writes_are_counted_per_version(cli, log, only_new_records, owner):
    """02 §5: when the log refuses a version's documents (here a write-blocked
    yearly index), the version is reported once, with the reason; the others are
    written; exit 1 and no marker."""
    from datetime import UTC, datetime

    community = make_community(owner, f"cli-f-{uuid.uuid4().hex[:6]}")
    backdate_community(community, datetime(2019, 1, 1, tzinfo=UTC))
    blocked = make_record(owner)
    fine = make_record(owner)
    backdate_record(blocked, datetime(2019, 7, 1, 12, tzinfo=UTC))
    bulk_add(community, [blocked])
    blocked_index = prefix_index("stats-community-events-2019")
    current_search_client.indices.create(index=blocked_index)
    current_search_client.indices.put_settings(
        index=blocked_index, body={"index.blocks.write": True}
    )
    try:
        result = cli(stats_cli, *events("generate", "--no-show-progress"))
    finally:
        current_search_client.indices.put_settings(
            index=blocked_index, body={"index.blocks.write": False}
        )
    assert_one_final_error(result, code=1)
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: failed: 1 version(s) could not be written"
    )
    listed = [line for line in result.stderr.splitlines() if line.startswith("  ")]
    assert len(listed) == 1
    assert listed[0].startswith(f"  {blocked.id}: cluster_block_exception")
    assert "Events written: 1 (added 1, removed 0)" in result.stdout
    assert written_pairs() == {(fine.id, GLOBAL, ADDED)}
    assert marker() is None


# ------------------------------------------------------------------ status


def test_status_human_details_and_fix_command(cli, two_communities):
    """02 §6: the totals, per-community details, and the exact ``generate`` command
    for the same filters, which then fixes what status reported."""
    c, d, records = two_communities
    ids = ",".join(r.id for r in records[:2])
    result = cli(
        stats_cli,
        *events(
            "status",
            "--community-id",
            c.data["slug"],
            "--record-ids",
            ids,
            "--community-details",
        ),
    )
    assert result.exit_code == 0, result.stderr
    lines = stdout_lines(result)
    assert lines[0] == (
        f"Scope: communities: {cid(c)}; records: {ids.replace(',', ', ')}; "
        "created from: earliest record; created to: today"
    )
    assert lines[1:7] == [
        "Versions in scope: 2",
        "Versions needing events: 2",
        "Events needed: 2",
        "Stale memberships: 0",
        "Deletion-flag mismatches: 0",
        "Initialised: no",
    ]
    assert lines[7].startswith("Live membership tracking: inactive: ")
    assert lines[8:10] == ["Communities checked: 1", f"  {cid(c)}: 2 missing"]
    fix = (
        "To fix: invenio community-stats community-events generate "
        f"--community-id {cid(c)} --record-ids {ids}"
    )
    assert lines[-1] == fix
    argv = fix.split()[4:]
    assert argv[:2] == ["community-events", "generate"]
    generated = cli(stats_cli, *argv, "--no-show-progress")
    assert generated.exit_code == 0, generated.stderr
    assert written_pairs() == pairs_of(records[:2], [cid(c)])
    after = cli(
        stats_cli,
        *events("status", "--community-id", c.data["slug"], "--record-ids", ids),
    )
    assert after.exit_code == 0
    assert "Events needed: 0" in after.stdout
    assert "To fix" not in after.stdout


def test_status_json(cli, log, two_communities):
    """06 §1 ``--json``: one JSON document on stdout with every key of
    ``count_records_needing_events``, equal to the service's answer."""
    c, _d, records = two_communities
    ids = ",".join(r.id for r in records)
    result = cli(stats_cli, *events("status", "--json", "--record-ids", ids))
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 1
    document = json.loads(result.stdout)
    assert set(document) == STATUS_KEYS
    expected = current_community_stats_service.count_records_needing_events(
        recids=[r.id for r in records]
    )
    assert set(expected) == STATUS_KEYS
    assert document == json.loads(json.dumps(expected))
    assert document["total_records"] == 3
    assert document["records_needing_events"] == 3
    assert document["total_events_needed"] == 9
    assert document["community_breakdown"] == {GLOBAL: 3, cid(c): 3, cid(_d): 3}
    assert log_count() == 0


def test_status_creates_no_index(cli, log, owner):
    """Must-not "status created indices": on a cluster without the log's indices
    (and without the bookmarks index) status creates none and writes nothing."""
    make_record(owner)
    delete_stats_indices()
    before = prefixed_indices()
    assert not [name for name in before if "stats-" in name]
    for arguments in ([], ["--json"], ["--community-details"]):
        result = cli(stats_cli, *events("status", *arguments))
        assert result.exit_code == 0, result.stderr
    assert prefixed_indices() == before


def test_status_live_tracking(cli, log):
    """02 §6 and must-not "missing hooks failed silently": a component missing from
    its config list makes status say tracking is inactive, naming the list."""
    log.on()
    active = cli(stats_cli, *events("status"))
    assert "Live membership tracking: active" in active.stdout
    assert json.loads(cli(stats_cli, *events("status", "--json")).stdout)[
        "live_tracking_active"
    ]
    log.off("RDM_RECORDS_SERVICE_COMPONENTS")
    inactive = cli(stats_cli, *events("status"))
    assert inactive.exit_code == 0
    assert (
        "Live membership tracking: inactive: component not configured in "
        "RDM_RECORDS_SERVICE_COMPONENTS"
    ) in inactive.stdout
    document = json.loads(cli(stats_cli, *events("status", "--json")).stdout)
    assert document["live_tracking_active"] is False
    assert "RDM_RECORDS_SERVICE_COMPONENTS" in document["live_tracking_reason"]


# ------------------------------------------------------- background and kill


def test_generate_background(cli, cli_process, log, owner, pid_dir):
    """02 §6, 06 §6: ``generate-background`` runs ``generate`` with exactly the given
    options as process ``community-event-generation``; the log gets plain progress
    lines; ``processes status`` shows the recorded end."""
    record = make_record(owner)
    other = make_record(owner)
    result = cli_process(
        "invenio",
        "community-stats",
        *events(
            "generate-background",
            "--record-ids",
            record.id,
            "--show-progress",
            "--pid-dir",
            str(pid_dir),
        ),
    )
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Started community-event-generation in the background." in result.stdout
    final = wait_status(
        pid_dir, "community-event-generation", ("completed", "failed"), timeout=90
    )
    assert final["status"] == "completed", final
    assert final["exit_code"] == 0
    assert final["command"][-5:] == [
        "community-events",
        "generate",
        "--record-ids",
        record.id,
        "--show-progress",
    ]
    assert written_pairs() == {(record.id, GLOBAL, ADDED)}
    log_text = (
        pid_dir / "invenio-community-stats-community-event-generation.log"
    ).read_text()
    assert "Versions processed: 1" in log_text
    assert "Generating: 1/1 (100.0%)" in log_text
    assert "\r" not in log_text
    assert other.id not in {h["_source"]["record_id"] for h in log_hits()}

    shown = cli(
        stats_cli,
        "processes",
        "status",
        "community-event-generation",
        "--pid-dir",
        str(pid_dir),
        "--json",
    )
    assert shown.exit_code == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert document["status"] == "completed"
    assert document["exit_code"] == 0
    assert document["pid"] == final["pid"]


@pytest.fixture()
def synthetic_versions(log, only_new_records, owner):
    """20,000 published versions in one community, indexed directly (making them
    through the services would take many minutes; the backfill reads only the
    records index). Removed again afterwards."""
    community = make_community(owner, f"cli-k-{uuid.uuid4().hex[:6]}")
    prefix = f"kill{uuid.uuid4().hex[:6]}-"
    created = index_synthetic_versions(20_000, [cid(community)], prefix=prefix)
    yield community, created
    delete_synthetic_versions(prefix)


def test_sigkill_mid_run_then_rerun(
    cli, base_app, app_config, tmp_path, synthetic_versions
):
    """02 test 18 and > 10,000 memberships: SIGKILL ``generate`` after its first
    chunk; the lock frees itself within one lease; a re-run writes the rest, and
    every one of the 40,000 (version, scope) pairs is in the log exactly once."""
    community, created = synthetic_versions
    lease = 3
    instance = tmp_path / "instance"
    write_instance_config(
        instance,
        app_config,
        STATS_DASHBOARD_LOCK_CONFIG=short_lease_locks(lease),
    )
    key = backfill_lock_key(base_app)
    client = redis_client(base_app)
    process = start_command(
        instance,
        "invenio",
        "community-stats",
        *events("generate", "--no-show-progress"),
    )

    try:
        written = wait_first_chunk(process)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        output, errors = process.communicate()
    assert process.returncode == -signal.SIGKILL, (output, errors)
    assert written > 0
    # the dead holder's lease runs out by itself
    holder = client.get(key)
    assert holder is not None and json.loads(holder)["pid"] == process.pid
    assert 0 < client.pttl(key) <= lease * 1000
    started = time.monotonic()
    wait_for(lambda: client.get(key) is None, timeout=lease + 2, message="lock expiry")
    assert time.monotonic() - started <= lease + 1
    client.close()

    time.sleep(1)  # any bulk request still in flight at the kill has ended
    present = log_count()
    expected_pairs = {
        (record_id, scope, ADDED)
        for record_id in created
        for scope in (GLOBAL, cid(community))
    }
    assert 0 < present < len(expected_pairs) == 40_000

    rerun = cli(stats_cli, *events("generate", "--no-show-progress"))
    assert rerun.exit_code == 0, rerun.stderr
    assert "Versions processed: 20,000" in rerun.stdout
    assert f"Events written: {40_000 - present:,}" in rerun.stdout
    assert f"Memberships already present: {present:,}" in rerun.stdout
    hits = log_hits()
    found = Counter(
        (
            h["_source"]["record_id"],
            h["_source"]["community_id"],
            h["_source"]["event_type"],
        )
        for h in hits
    )
    assert set(found) == expected_pairs
    assert set(found.values()) == {1}
    dates = {
        (h["_source"]["record_id"], h["_source"]["community_id"]): h["_source"][
            "event_date"
        ]
        for h in hits
        if h["_source"]["community_id"] == GLOBAL
    }
    assert all(dates[(r, GLOBAL)] == fmt(when) for r, when in created.items())
    assert current_search_client.count(index=alias())["count"] == 40_000
    assert marker() is not None


def test_sigterm_stops_between_chunks(
    app_config, base_app, tmp_path, synthetic_versions
):
    """06 §1 "Interruption": SIGTERM to a running ``generate`` stops it after the
    chunk in progress: it prints what was done, releases the lock at once and exits
    143; the log holds exactly the finished chunks."""
    instance = tmp_path / "instance"
    write_instance_config(
        instance,
        app_config,
        STATS_DASHBOARD_LOCK_CONFIG=short_lease_locks(5),
    )
    process = start_command(
        instance,
        "invenio",
        "community-stats",
        *events("generate", "--no-show-progress"),
    )

    try:
        wait_first_chunk(process)
        process.send_signal(signal.SIGTERM)
        output, errors = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 143, (output, errors)
    assert errors.strip().splitlines()[-1] == (
        "Error: stopped by SIGTERM; re-run to continue"
    )
    client = redis_client(base_app)
    assert client.get(backfill_lock_key(base_app)) is None
    client.close()
    processed = int(
        next(
            line.split(": ")[1].replace(",", "")
            for line in output.splitlines()
            if line.startswith("Versions processed: ")
        )
    )
    assert 0 < processed < 20_000
    assert processed % 500 == 0  # whole chunks only
    assert f"Events written: {2 * processed:,} (added {2 * processed:,}" in output
    assert log_count() == 2 * processed
    assert marker() is None


def test_sigint_while_counting(cli, base_app, log, owner, monkeypatch):
    """06 §1 "Interruption": Ctrl-C during the counting pass stops at its next chunk
    with exit 130 and one ``Error:`` line; nothing is written, no lock is left."""
    from invenio_stats_dashboard.services.community_stats import (
        CommunityStatsService,
    )

    make_record(owner)
    original = CommunityStatsService.count_versions

    def count_then_interrupt(self, filters):
        total = original(self, filters)
        os.kill(os.getpid(), signal.SIGINT)
        return total

    monkeypatch.setattr(CommunityStatsService, "count_versions", count_then_interrupt)
    result = cli(stats_cli, *events("generate", "--no-show-progress"))
    assert_one_final_error(result, code=130)
    assert result.stderr.strip().splitlines()[-1].startswith("Error: stopped by SIGINT")
    assert log_count() == 0
    client = redis_client(base_app)
    assert client.get(backfill_lock_key(base_app)) is None
    client.close()
