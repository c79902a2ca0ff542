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
