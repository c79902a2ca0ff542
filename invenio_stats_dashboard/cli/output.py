"""Output conventions of every command (06 §1 "Output", §2)."""

import sys
from typing import NoReturn

import click


def number(value: int) -> str:
    """Format a count with thousands separators."""
    return f"{value:,}"


def fail(reason: str, code: int = 1) -> NoReturn:
    """End the command with exactly one ``Error:`` line on stderr and ``code``."""
    click.echo(f"Error: {reason}", err=True)
    raise click.exceptions.Exit(code)


def existing_commands(paths: tuple[str, ...]) -> list[str]:
    """Keep the command paths (``"group command"``) that the command tree has.

    Hints name only commands that run (06 §11 item 32), even while later steps of
    the setup sequence are not installed yet.
    """
    from . import cli

    found = []
    for path in paths:
        command: click.Command | None = cli
        for name in path.split():
            group = command if isinstance(command, click.Group) else None
            command = group.commands.get(name) if group else None
        if command is not None:
            found.append(path)
    return found


def stdin_is_interactive() -> bool:
    """Whether a person can answer a prompt (06 §1 "Confirmation")."""
    isatty = getattr(sys.stdin, "isatty", None)
    return bool(isatty and isatty())


def confirm_or_fail(question: str, skip_flag: str) -> None:
    """Ask ``question``; declining, or a stdin nobody can answer, exits 1.

    ``skip_flag`` is the option that skips the prompt, named in the error.
    """
    if not stdin_is_interactive():
        fail(f"confirmation required; re-run with {skip_flag}")
    if not click.confirm(question, default=False, err=True):
        fail("refused: not confirmed; nothing changed")
