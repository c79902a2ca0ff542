"""``*-background`` commands: run a foreground command under a supervisor (06 §8.2).

:func:`background_command` turns a foreground command into its background twin with
the same options plus ``--pid-dir``. Click parses them with the foreground's own
parameter types and callbacks, so a usage error exits 2 before anything is spawned,
and the arguments the user typed are forwarded to the child unchanged (a flag stays a
flag, never ``True``). The child is ``python -m invenio_stats_dashboard.cli <group>
<command> <arguments>`` with the running interpreter.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from ..jobs.files import (
    DEFAULT_PID_DIR,
    PID_DIR_ENV,
    UnsafeJobFileError,
    resolve_pid_dir,
)
from ..jobs.launch import JobAlreadyRunningError, StartReport, start_background
from ..jobs.names import full_name
from .output import fail

ROOT_GROUP = "community-stats"
HINT_PROGRAM = "invenio community-stats"
"""How hints spell the command tree (``community-stats`` works the same)."""

CLI_MODULE = "invenio_stats_dashboard.cli"
RAW_ARGS_KEY = "invenio_stats_dashboard.raw_args"


def pid_dir_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--pid-dir``: where the pid, status and log files live (06 §8.1)."""
    return click.option(
        "--pid-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar=PID_DIR_ENV,
        default=DEFAULT_PID_DIR,
        show_default=True,
        show_envvar=True,
        help="Directory of the pid, status and log files.",
    )(function)


def _pid_dir_args(pid_dir: Path) -> list[str]:
    """``--pid-dir DIR`` for hints, unless DIR is what the hinted command finds anyway."""
    if Path(pid_dir) == resolve_pid_dir(None):
        return []
    return ["--pid-dir", str(pid_dir)]


def hint_commands(name: str, pid_dir: Path) -> list[str]:
    """Return the follow-up commands printed after a start; each one exists."""
    extra = _pid_dir_args(pid_dir)
    return [
        shlex.join([*HINT_PROGRAM.split(), "processes", "status", name, *extra]),
        shlex.join(
            [*HINT_PROGRAM.split(), "processes", "status", name, "--show-log", *extra]
        ),
        shlex.join([*HINT_PROGRAM.split(), "processes", "cancel", name, *extra]),
    ]


def command_text(command: Any) -> str:
    """Return an argv as one shell-quoted line, newlines escaped."""
    if isinstance(command, list):
        text = shlex.join(str(part) for part in command)
    else:
        text = str(command or "")
    return text.replace("\n", "\\n")


def run_background(name: str, command: Sequence[str], pid_dir: Path) -> StartReport:
    """Start ``command`` as job ``name`` and print the parent's report (06 §8.2).

    Exits 1 when the job is already running, a job file is unsafe, or the command
    already ended with a non-zero code (after printing its last log lines).
    """
    try:
        report = start_background(name, command, Path(pid_dir))
    except JobAlreadyRunningError as error:
        shown = error.pid if error.pid is not None else "unknown"
        fail(
            f"refused: {error.name} already running (pid {shown}); "
            f"see `{shlex.join(['processes', 'status', error.name])}`"
        )
    except UnsafeJobFileError as error:
        fail(f"refused: unsafe job file: {error}")
    except (OSError, ValueError, RuntimeError) as error:
        fail(f"failed: cannot start {name}: {error}")
    _print_report(report, Path(pid_dir))
    if report.failed:
        click.echo(f"Last {len(report.log_tail)} log lines:", err=True)
        for line in report.log_tail:
            click.echo(f"  {line}", err=True)
        fail(
            f"failed: {report.files.name} exited with code {report.exit_code}; "
            f"see {report.files.log}"
        )
    return report


def _print_report(report: StartReport, pid_dir: Path) -> None:
    files = report.files
    click.echo(f"Started {files.name} in the background.")
    click.echo(f"  Name:        {files.name} ({full_name(files.name)})")
    click.echo(f"  PID:         {report.pid}")
    click.echo(f"  Log file:    {files.log}")
    click.echo(f"  Status file: {files.status}")
    click.echo(f"  PID file:    {files.pid}")
    click.echo(f"  Command:     {command_text(report.command)}")
    if report.record and report.exit_code == 0:
        click.echo("  Already finished: completed (exit code 0).")
    status, show_log, cancel = hint_commands(files.name, pid_dir)
    click.echo("Follow it with:")
    click.echo(f"  {status}")
    click.echo(f"  {show_log}")
    click.echo("Cancel it with:")
    click.echo(f"  {cancel}")


class BackgroundCommand(click.Command):
    """A command that keeps the raw arguments it was given, to forward them."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Remember ``args`` as typed, then parse them as usual."""
        ctx.meta[RAW_ARGS_KEY] = list(args)
        return super().parse_args(ctx, args)


def _command_path(ctx: click.Context, foreground: click.Command) -> list[str]:
    """Group names between the root ``community-stats`` and the foreground command."""
    groups: list[str] = []
    parent = ctx.parent
    while parent is not None and parent.command.name != ROOT_GROUP:
        groups.insert(0, parent.info_name or str(parent.command.name))
        parent = parent.parent
    return [*groups, str(foreground.name)]


def forwarded_args(
    command: click.Command,
    raw_args: Sequence[str],
    drop_options: Sequence[str] = ("--pid-dir",),
) -> list[str]:
    """Return ``raw_args`` as typed, without the background-only ``drop_options``.

    Option values are skipped over by the options' own arity, so a value that looks
    like a dropped option (``--label --pid-dir``) is kept.
    """
    takes_values = {
        opt: param.nargs
        for param in command.params
        if isinstance(param, click.Option) and not param.is_flag and not param.count
        for opt in (*param.opts, *param.secondary_opts)
    }
    forwarded: list[str] = []
    index = 0
    while index < len(raw_args):
        token = raw_args[index]
        if token == "--":
            forwarded.extend(raw_args[index:])
            break
        option, has_value, _ = token.partition("=")
        if option in drop_options:
            index += 1 if has_value else 1 + takes_values.get(option, 0)
            continue
        width = 1 + takes_values.get(token, 0)
        forwarded.extend(raw_args[index : index + width])
        index += width
    return forwarded


def background_command(
    foreground: click.Command,
    process_name: str,
    *,
    name: str | None = None,
    validate: Callable[..., Sequence[str] | None] | None = None,
    exclude: Sequence[str] = (),
) -> click.Command:
    """Build ``<foreground>-background``: same options, plus ``--pid-dir``.

    ``validate(**params)``, when given, runs the foreground's own checks that need
    more than click (e.g. that a community exists, or a confirmation asked in the
    parent) before the job is spawned; the arguments it returns are appended to the
    child's. ``exclude`` names foreground parameters the background twin does not
    take (``dry_run``, ``run_async``). A foreground that has a ``--pid-dir`` of its
    own keeps it, and it is forwarded.
    """
    command_name = name or f"{foreground.name}-background"
    owns_pid_dir = any(param.name == "pid_dir" for param in foreground.params)
    dropped = () if owns_pid_dir else ("--pid-dir",)

    def callback(**params: Any) -> None:
        ctx = click.get_current_context()
        pid_dir = params["pid_dir"] if owns_pid_dir else params.pop("pid_dir")
        extra = list(validate(**params) or ()) if validate is not None else []
        raw_args = [*ctx.meta.get(RAW_ARGS_KEY, []), *extra]
        argv = [
            sys.executable,
            "-m",
            CLI_MODULE,
            *_command_path(ctx, foreground),
            *forwarded_args(ctx.command, raw_args, dropped),
        ]
        run_background(process_name, argv, pid_dir)

    command = BackgroundCommand(
        command_name,
        callback=callback,
        params=[p for p in foreground.params if p.name not in exclude],
        help=(
            f"Run '{foreground.name}' in the background, with the same options; "
            f"follow it with 'processes status {process_name}'."
        ),
    )
    if not owns_pid_dir:
        pid_dir_option(command)
    return command
