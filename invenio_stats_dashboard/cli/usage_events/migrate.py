"""``usage-events migrate`` and ``migrate-background`` (06 §7.1, behaviour: 03 §4–§5)."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable

import click
from flask.cli import with_appcontext

from ...errors import TaskLockAcquisitionError
from ...jobs.interrupt import Interruption
from ...jobs.progress import ProgressBar
from ...proxies import current_event_reindexing_service
from ...usage_events.migration.months import MonthSelectionError, parse_months
from ...usage_events.migration.results import (
    COMPLETED,
    FAILED,
    INTERRUPTED,
    MigrationResult,
    ReindexingResults,
)
from ...usage_events.names import EVENT_TYPES
from ..background import background_command
from ..output import fail, number
from . import usage_events

PROCESS_NAME = "event-migration"
PROGRAM = "invenio community-stats usage-events"
ERRORS_SHOWN = 3


def check_months(ctx: click.Context, param: click.Parameter, value):
    """Expand ``--months`` values; a bad one is a usage error (exit 2)."""
    try:
        return tuple(parse_months(value) or ())
    except MonthSelectionError as error:
        raise click.BadParameter(str(error), ctx=ctx, param=param) from None


def event_type_option(*names: str) -> Callable:
    """``--event-types``/``-e``: ``view`` and/or ``download`` (both by default)."""
    return click.option(
        *names,
        "event_types",
        type=click.Choice(list(EVENT_TYPES)),
        multiple=True,
        help="Event types (repeatable): view, download. Default: both.",
    )


def months_option(*names: str) -> Callable:
    """``--months``/``-m``: months and inclusive ranges, repeatable."""
    return click.option(
        *names,
        "months",
        multiple=True,
        callback=check_months,
        help="YYYY-MM or YYYY-MM:YYYY-MM (repeatable). Default: all months.",
    )


def migrate_options(command: Callable) -> Callable:
    """Add the options ``migrate`` and ``migrate-background`` share (06 §7.1)."""
    options = [
        event_type_option("--event-types", "-e"),
        click.option(
            "--max-batches",
            "-b",
            type=click.IntRange(min=0),
            default=None,
            help="Batches per month per run; 0 = no cap. "
            "Default: STATS_DASHBOARD_REINDEXING_MAX_BATCHES.",
        ),
        click.option(
            "--batch-size",
            type=click.IntRange(1, 10_000),
            default=None,
            help="Events per batch (1-10000). "
            "Default: STATS_DASHBOARD_REINDEXING_BATCH_SIZE.",
        ),
        click.option(
            "--max-memory-percent",
            type=click.IntRange(1, 100),
            default=None,
            help="Stop before a batch above this heap or memory use. "
            "Default: STATS_DASHBOARD_REINDEXING_MAX_MEMORY_PERCENT.",
        ),
        click.option("--dry-run", is_flag=True, help="Print the plan; write nothing."),
        click.option(
            "--delete-old-indices",
            is_flag=True,
            help="Delete each old monthly index once its month is verified.",
        ),
        click.option(
            "--fresh-start",
            is_flag=True,
            help="Restart the selected unfinalised months from their first event.",
        ),
        months_option("--months", "-m"),
        click.option(
            "--reenrich",
            is_flag=True,
            help="Re-enrich stored events in place after a usage-subcount change.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@usage_events.command("migrate")
@migrate_options
@click.option(
    "--async",
    "run_async",
    is_flag=True,
    help="Queue the migration as a Celery task with every option; print its id.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_appcontext
def migrate(
    event_types,
    max_batches,
    batch_size,
    max_memory_percent,
    dry_run,
    delete_old_indices,
    fresh_start,
    months,
    reenrich,
    run_async,
    as_json,
):
    """Migrate view and download events into enriched monthly indices."""
    service = current_event_reindexing_service
    options = dict(
        event_types=list(event_types) or None,
        max_batches=max_batches,
        batch_size=batch_size,
        max_memory_percent=max_memory_percent,
        delete_old_indices=delete_old_indices,
        fresh_start=fresh_start,
        month_filter=list(months) or None,
        reenrich=reenrich,
    )
    resolved = service.resolve_options(**options)
    if dry_run:
        _print_plan(service, resolved, as_json)
        return
    if run_async:
        from ...tasks.usage_reindexing_tasks import reindex_usage_events_with_metadata

        task = reindex_usage_events_with_metadata.delay(**options)
        click.echo(f"Queued reindex_usage_events_with_metadata: task id {task.id}")
        return
    if not as_json:
        _print_settings(resolved)
    bars: dict[tuple[str, str], ProgressBar] = {}

    def on_start(entry, total, done):
        bar = ProgressBar(total, f"{entry.event_type} {entry.month}", show=not as_json)
        bar.__enter__()
        bar.update(done)
        bars[(entry.event_type, entry.month)] = bar

    def on_batch(entry, copied):
        bars[(entry.event_type, entry.month)].update(copied)

    with Interruption() as stop:
        try:
            results = service.reindex_events(
                **options,
                should_stop=lambda: stop.requested,
                on_start=on_start,
                on_batch=on_batch,
            )
        except TaskLockAcquisitionError as error:
            fail(f"refused: another migration is running ({error})")
        finally:
            for bar in bars.values():
                bar.__exit__(None, None, None)
    if as_json:
        click.echo(json.dumps(results.to_dict(), indent=2, default=str))
    else:
        print_report(results)
    if stop.requested:
        fail("stopped by signal; re-run to continue", code=128 + int(stop.signum))
    if results.refused:
        fail(f"refused: {results.error}")
    if results.exit_code:
        fail(f"failed: {results.error or _failure_reason(results)}")


def _failure_reason(results: ReindexingResults) -> str:
    if results.health_issues:
        return f"stopped by a health or memory check: {results.health_issues[0]}"
    return "a backup or pause step failed; see the report"


def _print_settings(options) -> None:
    click.echo(
        "Settings: event types "
        f"{', '.join(options.event_types)}; months "
        f"{', '.join(options.months) if options.months else 'all'}; batch size "
        f"{number(options.batch_size)}; max batches "
        f"{options.max_batches or 'no cap'}; max memory {options.max_memory_percent}%; "
        f"delete old indices {'yes' if options.delete_old_indices else 'no'}; "
        f"fresh start {'yes' if options.fresh_start else 'no'}"
        + ("; re-enrich" if options.reenrich else "")
    )


def _print_plan(service, options, as_json: bool) -> None:
    rows = service.plan(options)
    if as_json:
        click.echo(json.dumps([row.__dict__ for row in rows], indent=2))
        return
    if not rows:
        click.echo("Dry run: nothing to migrate.")
        return
    click.echo("Dry run: nothing will be written.")
    for row in rows:
        click.echo(
            f"  {row.event_type:8} {row.month}  {row.source} -> {row.target}  "
            f"events {number(row.source_count)}, migrated {number(row.migrated)}, "
            f"state {row.state}, batches needed {number(row.batches_needed)}"
        )


def _status_text(result: MigrationResult) -> str:
    if result.status == COMPLETED:
        return (
            "already complete" if result.message == "already complete" else "completed"
        )
    if result.status == INTERRUPTED:
        return "interrupted (max batches)" if result.capped else "interrupted"
    if result.status == FAILED:
        reason = (
            result.operational_errors[-1]["message"]
            if result.operational_errors
            else ""
        )
        return f"failed: {reason}"
    return result.status


def print_report(results: ReindexingResults) -> None:
    """Print the per-month report, the totals and the next steps (03 §4.11)."""
    if results.refused:
        for issue in results.health_issues:
            click.echo(f"Health issue: {issue}")
        return
    months = results.months()
    if results.message:
        click.echo(results.message)
    for result in months:
        click.echo(
            f"{result.event_type} {result.month}: {result.source_index} -> "
            f"{result.target_index}"
        )
        click.echo(
            f"  status {_status_text(result)}; source "
            f"{number(result.source_count or 0)}; copied {number(result.processed)} "
            f"this run, {number(result.migrated_total)} in total; batches "
            f"{result.batches_succeeded}/{result.batches_attempted}; last id "
            f"{result.last_processed_id or '-'}; {result.total_time}"
        )
        for error in result.validation_errors[:ERRORS_SHOWN]:
            click.echo(f"  validation: {error}")
        if len(result.validation_errors) > ERRORS_SHOWN:
            click.echo(f"  ... {len(result.validation_errors) - ERRORS_SHOWN} more")
        for problem in result.operational_errors:
            click.echo(f"  error ({problem['type']}): {problem['message']}")
    for index in results.old_indices_deleted:
        click.echo(f"Deleted old index {index} (every event verified in its target)")
    for kept in results.old_indices_kept:
        click.echo(f"Kept old index {kept}")
    tally = results.tally()
    click.echo(
        f"Summary: {tally['completed']} completed, {tally['interrupted']} "
        f"interrupted, {tally['failed']} failed, {tally['skipped']} skipped; "
        f"{number(results.total_processed)} events copied"
    )
    capped = [r for r in months if r.capped]
    if capped:
        click.echo(f"{len(capped)} months incomplete: re-run to continue")
    for issue in results.health_issues:
        click.echo(f"Health issue: {issue}")
    attention = [r for r in months if r.status in (FAILED, INTERRUPTED)]
    if attention:
        click.echo("Needs attention:")
        for result in attention:
            retry = shlex.join(
                [
                    *PROGRAM.split(),
                    "migrate",
                    "-e",
                    result.event_type,
                    "-m",
                    result.month,
                ]
            )
            click.echo(f"  {result.event_type} {result.month}: {retry}")
    if results.reenrich and results.earliest_reenriched_month:
        click.echo(
            "Then re-aggregate usage from "
            f"{results.earliest_reenriched_month}-01: invenio community-stats "
            f"aggregate --start-date {results.earliest_reenriched_month}-01 "
            "--ignore-bookmark"
        )
    click.echo(f"Next: {PROGRAM} status; {PROGRAM} clear-bookmarks")


migrate_background = background_command(migrate, PROCESS_NAME, exclude=("run_async",))
usage_events.add_command(migrate_background)
