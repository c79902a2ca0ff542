"""``invenio community-stats community-events generate|status|generate-background``.

Behaviour: 02 §5–§6; options, output and exit codes: 06 §1, §2, §6.
"""

import json
import time
from collections.abc import Callable

import click
from flask.cli import with_appcontext
from invenio_search.proxies import current_search_client

from ..community_events.backfill import BackfillFilters, BackfillReport
from ..errors import TaskLockAcquisitionError
from ..jobs.interrupt import Interrupted, Interruption
from ..jobs.progress import ProgressBar, format_duration
from ..proxies import current_community_stats_service
from .background import background_command
from .options import check_record_ids, parse_date_range, resolve_communities
from .output import existing_commands, fail, number

PROCESS_NAME = "community-event-generation"
NEXT_STEPS = ("community-events status", "usage-events migrate", "aggregate")
"""The setup steps after the backfill (06 §10); hinted once each command exists."""
FAILURES_SHOWN = 10


def filter_options(command: Callable) -> Callable:
    """Add the four filters shared by all three commands (06 §6)."""
    options = [
        click.option(
            "--community-id",
            "community_ids",
            multiple=True,
            help="UUID, slug or 'global' (repeatable). Default: all.",
        ),
        click.option(
            "--record-ids",
            multiple=True,
            help="Record ids (repeatable, comma-separated lists accepted). "
            "Default: all.",
        ),
        click.option(
            "--start-date",
            help="First day (YYYY-MM-DD) of record creation. Default: earliest record.",
        ),
        click.option(
            "--end-date",
            help="Last day (YYYY-MM-DD) of record creation. Default: today.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def build_filters(community_ids, record_ids, start_date, end_date) -> BackfillFilters:
    """Check every filter before anything changes (usage errors exit 2)."""
    start, end = parse_date_range(start_date, end_date)
    communities = resolve_communities(community_ids, current_search_client)
    records = check_record_ids(record_ids, current_search_client)
    return BackfillFilters(
        record_ids=tuple(records) if records else None,
        community_ids=tuple(communities) if communities else None,
        start_date=start,
        end_date=end,
    )


def filter_arguments(filters: BackfillFilters) -> list[str]:
    """Return the command-line options that reproduce ``filters``."""
    args: list[str] = []
    for community in filters.community_ids or ():
        args += ["--community-id", community]
    if filters.record_ids:
        args += ["--record-ids", ",".join(filters.record_ids)]
    if filters.start_date:
        args += ["--start-date", filters.start_date.isoformat()]
    if filters.end_date:
        args += ["--end-date", filters.end_date.isoformat()]
    return args


def describe_filters(filters: BackfillFilters) -> str:
    """One line naming the scope of the run."""
    parts = [
        "communities: "
        + (
            ", ".join(filters.community_ids)
            if filters.community_ids
            else "all + global"
        ),
        "records: " + (", ".join(filters.record_ids) if filters.record_ids else "all"),
        f"created from: {filters.start_date or 'earliest record'}",
        f"created to: {filters.end_date or 'today'}",
    ]
    return "; ".join(parts)


@click.group(name="community-events")
def community_events() -> None:
    """Community membership events: backfill and status (02)."""


@community_events.command("generate")
@filter_options
@click.option(
    "--show-progress/--no-show-progress",
    default=True,
    show_default=True,
    help="Show a progress bar of versions processed.",
)
@with_appcontext
def generate(community_ids, record_ids, start_date, end_date, show_progress):
    """Backfill and repair the membership log for existing records."""
    filters = build_filters(community_ids, record_ids, start_date, end_date)
    service = current_community_stats_service
    click.echo(f"Filters: {describe_filters(filters)}")
    with Interruption() as stop:
        try:
            with ProgressBar(None, "Counting", show=show_progress) as bar:
                bar.set_total(service.count_versions(filters))
                counted = service.count_backfill(
                    filters,
                    on_chunk=lambda done, report: bar.update(done),
                    checkpoint=stop.check,
                )
        except Interrupted as error:
            fail(f"{error} while counting; nothing written", code=error.exit_code)
        click.echo(
            f"Versions needing events: {number(counted.records_needing_events)} "
            f"of {number(counted.total_records)}; events needed: "
            f"{number(counted.total_events_needed)}; stale memberships: "
            f"{number(counted.stale_memberships)}; deletion flags to fix: "
            f"{number(counted.deletion_flag_mismatches)}"
        )
        if counted.nothing_missing and not counted.failures:
            service.mark_initialized(filters)
            click.echo("All records already have events.")
            return
        _run_generation(service, filters, counted.total_records, show_progress, stop)


def _run_generation(
    service, filters, total: int, show_progress: bool, stop: Interruption
) -> None:
    started = time.monotonic()
    seen: dict[str, BackfillReport] = {}

    def on_chunk(done: int, report: BackfillReport) -> None:
        seen["report"] = report
        bar.update(
            done,
            current_task="generating community events",
            counters={
                "versions": report.records_processed,
                "added": report.added_written,
                "removed": report.removed_written,
            },
        )

    try:
        with ProgressBar(total, "Generating", show=show_progress) as bar:
            report = service.run_backfill(
                filters, on_chunk=on_chunk, checkpoint=stop.check
            )
    except TaskLockAcquisitionError as error:
        fail(f"refused: {error}")
    except Interrupted as error:
        if "report" in seen:
            _print_report(seen["report"], time.monotonic() - started)
        fail(f"{error}; re-run to continue", code=error.exit_code)
    _print_report(report, time.monotonic() - started)
    if report.failures:
        for record_id, reason in report.failures[:FAILURES_SHOWN]:
            click.echo(f"  {record_id}: {reason}", err=True)
        fail(f"failed: {number(len(report.failures))} version(s) could not be written")
    hints = existing_commands(NEXT_STEPS)
    click.echo("Next: " + "; ".join(f"invenio community-stats {c}" for c in hints))


def _print_report(report: BackfillReport, seconds: float) -> None:
    click.echo(f"Versions processed: {number(report.records_processed)}")
    click.echo(
        f"Events written: {number(report.new_events_created)} "
        f"(added {number(report.added_written)}, "
        f"removed {number(report.removed_written)})"
    )
    click.echo(f"Memberships already present: {number(report.old_events_found)}")
    click.echo(f"Deletion flags fixed: {number(report.flags_fixed)}")
    click.echo(f"Duration: {format_duration(seconds)}")


@community_events.command("status")
@filter_options
@click.option(
    "--community-details", is_flag=True, help="Show missing events per community."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@with_appcontext
def status(community_ids, record_ids, start_date, end_date, community_details, as_json):
    """Report what the membership log holds and lacks (read-only)."""
    filters = build_filters(community_ids, record_ids, start_date, end_date)
    service = current_community_stats_service
    with Interruption() as stop:
        try:
            report = service.count_backfill(filters, checkpoint=stop.check)
        except Interrupted as error:
            fail(f"{error}; nothing written", code=error.exit_code)
    result = service.events_status(filters, report)
    if as_json:
        click.echo(json.dumps(result, sort_keys=True))
        return
    click.echo(f"Scope: {describe_filters(filters)}")
    click.echo(f"Versions in scope: {number(result['total_records'])}")
    click.echo(f"Versions needing events: {number(result['records_needing_events'])}")
    click.echo(f"Events needed: {number(result['total_events_needed'])}")
    click.echo(f"Stale memberships: {number(result['stale_memberships'])}")
    click.echo(
        f"Deletion-flag mismatches: {number(result['deletion_flag_mismatches'])}"
    )
    initialized = f"yes ({result['initialized_at']})" if result["initialized"] else "no"
    click.echo(f"Initialised: {initialized}")
    tracking = (
        "active"
        if result["live_tracking_active"]
        else f"inactive: {result['live_tracking_reason']}"
    )
    click.echo(f"Live membership tracking: {tracking}")
    if community_details:
        click.echo(f"Communities checked: {number(len(result['communities_checked']))}")
        for scope, missing in sorted(result["community_breakdown"].items()):
            if missing:
                click.echo(f"  {scope}: {number(missing)} missing")
    missing = (
        result["total_events_needed"]
        + result["stale_memberships"]
        + result["deletion_flag_mismatches"]
    )
    if missing:
        command = " ".join(
            ["invenio community-stats community-events generate"]
            + filter_arguments(filters)
        )
        click.echo(f"To fix: {command}")


@with_appcontext
def _check_generate_options(
    community_ids, record_ids, start_date, end_date, **_options
) -> None:
    """Run ``generate``'s input checks in the parent, before anything is spawned."""
    build_filters(community_ids, record_ids, start_date, end_date)


community_events.add_command(
    background_command(generate, PROCESS_NAME, validate=_check_generate_options)
)
