"""Input checks shared by every command (06 §1 "Input checks").

Each check runs before anything changes and turns bad input into a usage error
(exit 2) that names the option.
"""

import re
from collections.abc import Iterable
from datetime import date

import click

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_date(value: str | None, option: str) -> date | None:
    """Parse ``YYYY-MM-DD``; anything else is a usage error naming ``option``."""
    if value is None:
        return None
    if not _DATE.match(value):
        raise click.UsageError(f"{option}: expected YYYY-MM-DD, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise click.UsageError(f"{option}: invalid date {value!r} ({error})") from None


def parse_date_range(
    start: str | None, end: str | None
) -> tuple[date | None, date | None]:
    """Parse ``--start-date``/``--end-date`` and refuse a start after the end."""
    start_date = parse_date(start, "--start-date")
    end_date = parse_date(end, "--end-date")
    if start_date and end_date and start_date > end_date:
        raise click.UsageError(
            f"--start-date {start_date} is after --end-date {end_date}"
        )
    return start_date, end_date


def split_values(values: Iterable[str]) -> list[str]:
    """Flatten a repeatable option whose values may also be comma-separated."""
    result: list[str] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if part and part not in result:
                result.append(part)
    return result


def resolve_communities(values: Iterable[str], client) -> list[str] | None:
    """Resolve UUIDs, slugs and ``global`` to scope ids; unknown ones exit 2."""
    from ..communities import CommunityDirectory, UnknownCommunityError

    references = split_values(values)
    if not references:
        return None
    try:
        return CommunityDirectory.load(client).resolve(references)
    except UnknownCommunityError as error:
        raise click.UsageError(str(error)) from None


def check_record_ids(values: Iterable[str], client) -> list[str] | None:
    """Split record ids and refuse any that is not in the records index."""
    from invenio_search.utils import prefix_index

    from ..search_indices.paging import RECORDS_ALIAS, iter_hits

    record_ids = split_values(values)
    if not record_ids:
        return None
    found = {
        hit["_source"]["id"]
        for hit in iter_hits(
            client,
            index=prefix_index(RECORDS_ALIAS),
            body={"query": {"terms": {"id": record_ids}}, "_source": ["id"]},
            sort=[{"id": "asc"}],
        )
    }
    unknown = [record_id for record_id in record_ids if record_id not in found]
    if unknown:
        raise click.UsageError(f"unknown record id(s): {', '.join(unknown)}")
    return record_ids
