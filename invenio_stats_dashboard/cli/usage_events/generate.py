"""``invenio community-stats usage-events generate|generate-background``.

Behaviour: 03 §6; options, output and exit codes: 06 §1, §2, §7.2, §8.
"""

from __future__ import annotations

from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from invenio_search.proxies import current_search_client
from opensearchpy.exceptions import ConnectionError as SearchConnectionError
from opensearchpy.exceptions import TransportError

from ...jobs.interrupt import Interrupted, Interruption
from ...jobs.progress import ProgressBar
from ...proxies import current_community_stats
from ...timeutils import utc_now
from ...usage_events.fields import configured_fields
from ...usage_events.generation import (
    DOWNLOAD,
    VIEW,
    EventGenerator,
    GenerationOptions,
    GenerationRefused,
    GenerationResult,
    RunPlan,
    draw_seed,
    plan_run,
    resolve_routes,
    writing_generator,
)
from ..background import background_command
from ..options import parse_date, parse_date_range
from ..output import confirm_or_fail, fail, number

PROCESS_NAME = "usage-event-generation"
CONFIRM_FLAG = "--yes-i-know"
ERRORS_SHOWN = 5


# ------------------------------------------------------------------ input checks


def build_options(
    start_date: str | None,
    end_date: str | None,
    event_start_date: str | None,
    event_end_date: str | None,
    events_per_record: int,
    max_records: int,
    enrich_events: bool,
    use_migrated_indices: bool,
    seed: int | None,
    **_ignored: Any,
) -> GenerationOptions:
    """Check every option before anything happens (usage errors exit 2)."""
    start, end = parse_date_range(start_date, end_date)
    event_start = parse_date(event_start_date, "--event-start-date")
    event_end = parse_date(event_end_date, "--event-end-date")
    if event_start and event_end and event_start > event_end:
        raise click.UsageError(
            f"--event-start-date {event_start} is after --event-end-date {event_end}"
        )
    return GenerationOptions(
        start_date=start,
        end_date=end,
        event_start_date=event_start,
        event_end_date=event_end,
        events_per_record=events_per_record,
        max_records=max_records,
        enrich=enrich_events,
        use_migrated_indices=use_migrated_indices,
        seed=draw_seed() if seed is None else seed,
    )


# ------------------------------------------------------------------ confirmation


WARNING = (
    "Synthetic events go into the live usage-event indices of this instance and count "
    "in every statistic built from them."
)


# ------------------------------------------------------------------------ output


def describe_settings(options: GenerationOptions, seed_given: bool) -> list[str]:
    """Return the settings block printed first."""
    created_from = options.start_date or "the earliest published record"
    created_to = options.end_date or "today"
    events_from = options.event_start_date or "each record's creation"
    events_to = (
        f"the end of {options.event_end_date} (capped at now)"
        if options.event_end_date
        else "now"
    )
    if options.use_migrated_indices:
        indices = "-v2.0.0 indices where they exist, else monthly indices (enriched)"
    elif options.enrich:
        indices = "monthly indices (enriched)"
    else:
        indices = "monthly indices (not enriched)"
    seed = (
        f"{options.seed}"
        if seed_given
        else f"{options.seed} (random; repeat with --seed {options.seed})"
    )
    return [
        f"Records: created from {created_from} to {created_to} (UTC days); "
        f"max records: {options.max_records or 'all'}",
        f"Events: {number(options.events_per_record)} per record (a view, plus a "
        f"download for records with files), from {events_from} to {events_to}",
        f"Indices: {indices}",
        f"Seed: {seed}",
    ]


def describe_plan(plan: RunPlan, routes: dict | None) -> list[str]:
    """Return the plan: totals, then one line per month with its indices."""
    lines = [
        f"Planned: {number(plan.records)} records, {number(plan.of_type(VIEW))} views, "
        f"{number(plan.of_type(DOWNLOAD))} downloads in "
        f"{number(len(plan.months))} months"
    ]
    if plan.records_without_window:
        lines.append(
            f"  {number(plan.records_without_window)} records get no events: created "
            "after the event window"
        )
    for month in plan.months:
        parts = []
        for stats_type, label in ((VIEW, "views"), (DOWNLOAD, "downloads")):
            count = plan.events.get((stats_type, month), 0)
            if not count:
                continue
            text = f"{number(count)} {label}"
            route = (routes or {}).get((stats_type, month))
            if route is not None:
                text += f" -> {route.index}"
                if route.create:
                    text += f" (new, {route.create})"
            parts.append(text)
        lines.append(f"  {month}: " + "; ".join(parts))
    return lines


def print_result(result: GenerationResult) -> None:
    """Print the closing line (06 §7.2) and a few error reasons on stderr."""
    for reason in result.error_samples[:ERRORS_SHOWN]:
        click.echo(f"  {reason}", err=True)
    click.echo(f"indexed {number(result.indexed)}, errors {number(result.errors)}")


# ---------------------------------------------------------------------- commands


def _options(function):
    """Every option of ``generate`` (06 §7.2), in the table's order."""
    options = [
        click.option(
            "--start-date",
            help="First UTC day (YYYY-MM-DD) of record creation. "
            "Default: the earliest published record.",
        ),
        click.option(
            "--end-date",
            help="Last UTC day (YYYY-MM-DD) of record creation. Default: today.",
        ),
        click.option(
            "--event-start-date",
            help="Earliest event day (YYYY-MM-DD). Default: each record's creation.",
        ),
        click.option(
            "--event-end-date",
            help="Latest event day (YYYY-MM-DD); events end with that day, never "
            "after now. Default: now.",
        ),
        click.option(
            "--events-per-record",
            type=click.IntRange(min=1),
            default=5,
            show_default=True,
            help="Views per record; records with files also get one download per view.",
        ),
        click.option(
            "--max-records",
            type=click.IntRange(min=0),
            default=0,
            show_default=True,
            help="Use at most this many records, oldest first (0 = all).",
        ),
        click.option(
            "--enrich-events",
            is_flag=True,
            help="Write the enrichment fields (communities, record metadata).",
        ),
        click.option(
            "--dry-run", is_flag=True, help="Build and count the events; write nothing."
        ),
        click.option(
            CONFIRM_FLAG,
            "yes_i_know",
            is_flag=True,
            help="Skip the warning prompt (the events land in live indices).",
        ),
        click.option(
            "--use-migrated-indices",
            is_flag=True,
            help="Write into the -v2.0.0 index of a month where it exists; implies "
            "--enrich-events.",
        ),
        click.option(
            "--seed",
            type=int,
            help="Make ids and timestamps reproducible. Default: random (printed).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@click.command("generate")
@_options
@with_appcontext
def generate(dry_run: bool, yes_i_know: bool, seed: int | None, **params: Any) -> None:
    """Write synthetic view and download events for demos, tests and benchmarks."""
    options = build_options(seed=seed, **params)
    now = utc_now()
    for line in describe_settings(options, seed_given=seed is not None):
        click.echo(line)
    client = current_search_client
    with Interruption() as stop:
        try:
            _run(client, options, now, dry_run, yes_i_know, stop)
        except (SearchConnectionError, TransportError) as error:
            fail(f"failed: search cluster error: {error}")


def _run(
    client,
    options: GenerationOptions,
    now,
    dry_run: bool,
    yes_i_know: bool,
    stop: Interruption,
) -> None:
    """Plan, route, confirm, prepare the indices, then write."""
    plan = plan_run(client, options, now)
    if plan.total == 0:
        for line in describe_plan(plan, None):
            click.echo(line)
        click.echo("Nothing to generate: no published record has events in the window.")
        return
    try:
        routes = resolve_routes(client, plan, options)
    except GenerationRefused as error:
        fail(f"refused: {error}; nothing written")
    for line in describe_plan(plan, routes):
        click.echo(line)
    if dry_run:
        _generate(EventGenerator(client, options, plan, now), plan, stop, dry_run=True)
        return
    if not yes_i_know:
        click.echo(WARNING, err=True)
        confirm_or_fail(f"Write {number(plan.total)} synthetic events?", CONFIRM_FLAG)
    current_community_stats.ensure_search_setup()
    try:
        generator = writing_generator(
            client,
            options,
            plan,
            routes,
            now,
            prefix=current_app.config.get("SEARCH_INDEX_PREFIX") or "",
            fields=configured_fields(current_app.config),
        )
    except GenerationRefused as error:
        fail(f"refused: {error}")
    _generate(generator, plan, stop, dry_run=False)


def _generate(
    generator: EventGenerator, plan: RunPlan, stop: Interruption, dry_run: bool
) -> None:
    label = "Building (dry run)" if dry_run else "Generating"

    def on_chunk(done: int, result: GenerationResult) -> None:
        bar.update(
            done,
            current_task="building events" if dry_run else "writing events",
            counters={"indexed": result.indexed, "errors": result.errors},
        )

    try:
        with ProgressBar(plan.total, label) as bar:
            result = generator.run(on_chunk=on_chunk, checkpoint=stop.check)
    except Interrupted as error:
        print_result(generator.result)
        fail(f"{error}; events written so far stay", code=error.exit_code)
    except (SearchConnectionError, TransportError) as error:
        print_result(generator.result)
        fail(f"failed: search cluster error: {error}")
    if dry_run:
        click.echo(
            f"Dry run: built {number(result.built[VIEW])} views and "
            f"{number(result.built[DOWNLOAD])} downloads; nothing written."
        )
    print_result(result)
    if result.errors:
        fail(f"failed: {number(result.errors)} event(s) could not be indexed")


# ------------------------------------------------------------------- background


def _check_in_parent(yes_i_know: bool = False, **params: Any) -> list[str]:
    """Check the options and ask the prompt in the parent (06 §7.2).

    The child has no terminal, so once the user confirmed it gets ``--yes-i-know``.
    """
    build_options(**params)
    if yes_i_know:
        return []
    click.echo(WARNING, err=True)
    confirm_or_fail("Start writing synthetic events in the background?", CONFIRM_FLAG)
    return [CONFIRM_FLAG]


generate_background = background_command(
    generate, PROCESS_NAME, validate=_check_in_parent, exclude=("dry_run",)
)
