"""``invenio community-stats aggregate`` and ``aggregate-background`` (04 §9, 06 §4.1).

``aggregate`` runs in process by default (``--eager``): it repeats passes until
every selected scope reaches the requested end, with a progress bar of scope-days,
then prints the run report. ``--no-eager`` sends one Celery task per pass instead,
prints each task id, waits for it and prints its report, and sends the next pass
until every scope is caught up; Ctrl-C stops only the waiting. Any result but
``completed`` exits 1.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import click
from celery.exceptions import TimeoutError as CeleryTimeout
from flask.cli import with_appcontext
from invenio_search.proxies import current_search_client

from ..aggregations.base import RunOptions
from ..aggregations.names import RUN_ORDER
from ..aggregations.ranges import ONE_DAY
from ..aggregations.reports import PassReport
from ..aggregations.run import (
    RUN_COMPLETED,
    RUN_WITH_ERRORS,
    AggregationRequest,
    AggregationRun,
    canonical_order,
)
from ..aggregations.task_passes import resume_day
from ..jobs.interrupt import Interrupted, Interruption
from ..jobs.progress import ProgressBar
from ..proxies import current_community_stats
from ..timeutils import utc_now
from .aggregation_options import AggregatorChoice, aggregation_range
from .background import background_command
from .options import resolve_communities
from .output import fail

PROCESS_NAME = "aggregation"
TASK_WAIT = 1.0
"""Seconds between checks of a sent task (Ctrl-C stops only the waiting)."""


def aggregate_options(command):
    """Add the options ``aggregate`` and ``aggregate-background`` share."""
    options = [
        click.option(
            "--community-id",
            "community_ids",
            multiple=True,
            help="UUID, slug or 'global' (repeatable). Default: every enabled "
            "community and global.",
        ),
        click.option(
            "--aggregation-type",
            "aggregation_types",
            multiple=True,
            type=AggregatorChoice(),
            help="Aggregator (repeatable). Default: all four, in run order.",
        ),
        click.option("--start-date", help="First day (YYYY-MM-DD). Default: bookmark."),
        click.option("--end-date", help="Last day (YYYY-MM-DD). Default: today."),
        click.option(
            "--update-bookmark/--no-update-bookmark",
            default=True,
            show_default=True,
            help="Move each scope's bookmark after its passes.",
        ),
        click.option(
            "--ignore-bookmark",
            is_flag=True,
            help="Start at --start-date or the scope start, whatever the bookmark.",
        ),
        click.option("--verbose", is_flag=True, help="Print the per-scope report."),
        click.option(
            "--force",
            is_flag=True,
            help="Accepted for compatibility; aggregate always runs.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _request(community_ids, aggregation_types, start_date, end_date, **flags):
    """Check every input (exit 2) and return the request."""
    first, last = aggregation_range(start_date, end_date)
    scopes = resolve_communities(community_ids, current_search_client)
    return AggregationRequest(
        aggregations=canonical_order(aggregation_types or RUN_ORDER),
        community_ids=tuple(scopes) if scopes else None,
        options=RunOptions(
            start_date=first,
            end_date=last,
            update_bookmark=flags["update_bookmark"],
            ignore_bookmark=flags["ignore_bookmark"],
        ),
        catch_up=True,
    )


def _banner(request: AggregationRequest, eager: bool) -> None:
    """Print what the run does, each value under its own label (04 §12 row 25)."""
    options = request.options
    bookmarks = (
        "ignored"
        if options.ignore_bookmark
        else "updated"
        if options.update_bookmark
        else "left unchanged"
    )
    click.echo(f"Aggregators: {', '.join(request.aggregations)}")
    click.echo(
        "Communities: "
        + (
            ", ".join(request.community_ids)
            if request.community_ids
            else "all + global"
        )
    )
    click.echo(
        f"Range: {options.start_date or 'bookmark or scope start'} → "
        f"{options.end_date or 'today'}"
    )
    click.echo(f"Mode: {'eager (in process)' if eager else 'Celery task'}")
    click.echo(f"Bookmarks: {bookmarks}")


@click.command("aggregate")
@aggregate_options
@click.option(
    "--eager/--no-eager",
    default=True,
    show_default=True,
    help="Run in this process, or send the Celery task and wait for it.",
)
@with_appcontext
def aggregate(eager, verbose, force, **params):
    """Aggregate daily deltas and snapshots until the requested end."""
    request = _request(**params)
    _banner(request, eager)
    if eager:
        report = _run_eager(request)
    else:
        report = _run_tasks(request, verbose)
    click.echo(report["formatted_report_verbose" if verbose else "formatted_report"])
    if report["status"] != RUN_COMPLETED:
        fail(f"{report['status']}: {report['message'] or 'see the report above'}")


def _run_eager(request: AggregationRequest) -> dict[str, Any]:
    current_community_stats.ensure_search_setup()
    with Interruption() as stop, ProgressBar(None, "Aggregating") as bar:

        def on_pass(report: PassReport) -> None:
            bar.update(
                report.days,
                current_task=f"{report.aggregator} {report.scope}",
                counters={"documents": report.documents},
            )

        run = AggregationRun(
            on_pass=on_pass, checkpoint=stop.check, should_stop=lambda: stop.requested
        )
        try:
            result = run.run(request)
        except Interrupted as error:
            fail(f"{error}; bookmarks of completed days saved", code=error.exit_code)
    return result.as_dict()


def _run_tasks(request: AggregationRequest, verbose: bool) -> dict[str, Any]:
    """Send one task per pass until caught up; return the last task's report.

    Each earlier task's report is printed when it arrives. After the first pass
    the next ones continue from the bookmarks, or, with an explicit start date or
    ``--no-update-bookmark``, from the day after the earliest pass end.
    """
    options = request.options
    today = utc_now().date()
    target = min(options.end_date or today, today)
    explicit = options.start_date is not None or not options.update_bookmark
    arguments = {
        "aggregations": list(request.aggregations),
        "start_date": options.start_date.isoformat() if options.start_date else None,
        "end_date": options.end_date.isoformat() if options.end_date else None,
        "update_bookmark": options.update_bookmark,
        "ignore_bookmark": options.ignore_bookmark,
        "community_ids": list(request.community_ids) if request.community_ids else None,
        "catch_up": False,
    }
    previous: date | None = None
    worst: dict[str, Any] | None = None
    while True:
        report = _wait_for_task(arguments)
        if report["status"] != RUN_COMPLETED and worst is None:
            worst = report
        resume = resume_day(report, target)
        if report["status"] not in (RUN_COMPLETED, RUN_WITH_ERRORS) or resume is None:
            break
        if previous is not None and resume <= previous:
            report["status"] = "stalled"
            report["message"] = f"no pass got past {resume - ONE_DAY}"
            return report
        previous = resume
        click.echo(
            report["formatted_report_verbose" if verbose else "formatted_report"]
        )
        arguments["start_date"] = resume.isoformat() if explicit else None
        arguments["ignore_bookmark"] = False
    if worst is not None and worst is not report:
        report["status"], report["message"] = worst["status"], worst["message"]
    return report


def _wait_for_task(arguments: dict[str, Any]) -> dict[str, Any]:
    """Send one task, print its id and return its report; Ctrl-C stops the waiting."""
    from ..tasks.aggregation_tasks import aggregate_community_record_stats

    task = aggregate_community_record_stats.apply_async(kwargs=arguments)
    click.echo(f"Sent task {task.id}")
    with Interruption() as stop:
        while True:
            try:
                return task.get(timeout=TASK_WAIT, propagate=True)
            except CeleryTimeout:
                if stop.requested:
                    fail(
                        f"task {task.id} continues in the worker",
                        code=128 + (stop.signum or 2),
                    )


@with_appcontext
def _check_aggregate_options(verbose=False, force=False, **params) -> None:
    """Run ``aggregate``'s input checks in the parent, before anything is spawned."""
    _request(**params)


aggregate_background = background_command(
    aggregate,
    PROCESS_NAME,
    validate=_check_aggregate_options,
    exclude=("eager",),
)
