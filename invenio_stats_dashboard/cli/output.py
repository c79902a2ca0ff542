"""Output conventions of every command (06 §1 "Output", §2)."""

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
