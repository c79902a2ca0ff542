"""What must be in place before a run writes anything (04 §7.8).

Checked once per run, before any write: community events initialised (else all
four aggregators are refused), the usage migration complete (else the usage
aggregators are skipped and the records ones still run), the records index present
(else the records aggregators are refused), and every configured subcount key
mapped by the aggregator's template (else that aggregator is refused, never a
half-written bulk). The run never generates events or migrates usage itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from invenio_search.utils import prefix_index

from ..community_events.log_reader import has_any_event
from ..community_events.marker import read_marker
from ..search_indices.paging import RECORDS_ALIAS
from ..search_indices.templates import REGISTERED_TEMPLATES, template_body
from .names import ALIASES, RECORDS_DELTA, RECORDS_SNAPSHOT, USAGE_DELTA, USAGE_SNAPSHOT
from .subcounts import subcount_specs

USAGE_AGGREGATORS = (USAGE_DELTA, USAGE_SNAPSHOT)
RECORDS_AGGREGATORS = (RECORDS_DELTA, RECORDS_SNAPSHOT)
SIDES = {
    USAGE_DELTA: "usage_events",
    USAGE_SNAPSHOT: "usage_events",
    RECORDS_DELTA: "records",
    RECORDS_SNAPSHOT: "records",
}


class CommunityEventsNotInitializedError(Exception):
    """The membership log is missing or empty and was never completed."""


class UsageEventsNotMigratedError(Exception):
    """Usage events still need (or are in) their migration."""


@dataclass
class Preconditions:
    """Aggregators refused or skipped by the checks, with their one-line reason."""

    refused: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def _template_subcounts(alias: str) -> set[str]:
    """Return the subcount keys the aggregator's shipped template maps."""
    stem = f"{alias}-v1.0.0"
    template = next(t for t in REGISTERED_TEMPLATES if t.stem == stem)
    mappings = template_body(template, "")["template"]["mappings"]
    return set(mappings["properties"]["subcounts"]["properties"])


def check_preconditions(
    client,
    config: Mapping[str, Any],
    names: Iterable[str],
    migration_state: str | None,
) -> Preconditions:
    """Return which of ``names`` may not run, and why."""
    names = list(names)
    found = Preconditions()
    if read_marker(client) is None and not has_any_event(client):
        reason = (
            f"{CommunityEventsNotInitializedError.__name__}: community events are "
            "not initialised: run `invenio community-stats community-events generate`"
        )
        found.refused = dict.fromkeys(names, reason)
        return found
    if migration_state in ("required", "running"):
        reason = (
            "usage events migration incomplete: run "
            "`invenio community-stats usage-events migrate`"
            if migration_state == "required"
            else "usage events migration incomplete: migration in progress"
        )
        found.skipped.update(dict.fromkeys(set(names) & set(USAGE_AGGREGATORS), reason))
    if not client.indices.exists(index=prefix_index(RECORDS_ALIAS)):
        reason = f"the records index {prefix_index(RECORDS_ALIAS)} does not exist"
        found.refused.update(
            dict.fromkeys(set(names) & set(RECORDS_AGGREGATORS), reason)
        )
    subcounts = config["COMMUNITY_STATS_SUBCOUNTS"]
    for name in names:
        if name in found.refused or name in found.skipped:
            continue
        keys = {spec.key for spec in subcount_specs(subcounts, SIDES[name])}  # type: ignore[arg-type]
        unmapped = sorted(keys - _template_subcounts(ALIASES[name]))
        if unmapped:
            found.refused[name] = (
                "subcount keys not mapped by the template "
                f"{ALIASES[name]}-v1.0.0: {', '.join(unmapped)}"
            )
    return found
