"""Which index each (event type, month) of a generation run goes to.

Read-only first, so a run that would put unenriched events into an enriched month is
refused before anything is written; then the missing indices are created.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...search_indices.templates import template_body
from ..event_mappings import (
    ENRICHED_MARKER,
    EVENT_TEMPLATE_FILES,
    add_missing_properties,
    enrichment_properties,
    index_meta,
    is_enriched_mapping,
)
from ..fields import EnrichedField
from ..names import CLI_TYPES, month_index, target_index
from .planning import GenerationOptions
from .records import RunPlan

# ------------------------------------------------------------------ index routing


class GenerationRefused(Exception):
    """The run would put unenriched events into an enriched month; nothing written."""


@dataclass(frozen=True)
class IndexState:
    """Whether an index (or alias) exists and carries the enriched marker."""

    name: str
    exists: bool
    enriched: bool = False


@dataclass(frozen=True)
class Route:
    """Where the events of one type and month go."""

    index: str
    create: str | None = None
    """``"enriched"`` or ``"unenriched"`` when the index must be created first."""


def choose_route(
    monthly: IndexState, target: IndexState, enrich: bool, use_migrated: bool
) -> Route:
    """Decide the index of one (type, month); raise GenerationRefused when unsafe.

    - migrated indices requested and the ``-v2.0.0`` target exists → the target;
    - the monthly index exists → it, unless it is enriched and events are not;
    - otherwise the monthly index is created: from the v2 template when events are
      enriched, else with the marker false so the migration picks the month up.
    """
    if use_migrated and target.exists:
        return Route(target.name)
    if monthly.exists:
        if monthly.enriched and not enrich:
            raise GenerationRefused(
                f"{monthly.name} holds enriched events (_meta.{ENRICHED_MARKER} is "
                "true); unenriched events may not go there: add --enrich-events or "
                "--use-migrated-indices"
            )
        return Route(monthly.name)
    return Route(monthly.name, create="enriched" if enrich else "unenriched")


def index_state(client, name: str) -> IndexState:
    """Look up an index or alias name (an alias counts as enriched if any index is)."""
    if not client.indices.exists(index=name):
        return IndexState(name, False)
    metas = index_meta(client, name).values()
    return IndexState(name, True, any(is_enriched_mapping(m) for m in metas))


def resolve_routes(
    client, plan: RunPlan, options: GenerationOptions
) -> dict[tuple[str, str], Route]:
    """Route every planned (type, month), read-only; refuse all problems at once."""
    routes: dict[tuple[str, str], Route] = {}
    problems: list[str] = []
    for stats_type, month in sorted(plan.events):
        cli_type = CLI_TYPES[stats_type]
        monthly = index_state(client, month_index(cli_type, month))
        target = (
            index_state(client, target_index(cli_type, month))
            if options.use_migrated_indices
            else IndexState(target_index(cli_type, month), False)
        )
        try:
            routes[(stats_type, month)] = choose_route(
                monthly, target, options.enriches, options.use_migrated_indices
            )
        except GenerationRefused as error:
            problems.append(str(error))
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise GenerationRefused(problems[0] + more)
    return routes


def new_index_body(stats_type: str, prefix: str, enriched: bool) -> dict[str, Any]:
    """Return the v2 template's settings, mappings and read alias, marker set.

    The read alias comes with the body (as the template would add it), so the new
    month is counted like any other month, whether or not the template is installed.
    """
    body = copy.deepcopy(template_body(EVENT_TEMPLATE_FILES[stats_type], prefix))
    section = body["template"]
    section["mappings"]["_meta"][ENRICHED_MARKER] = enriched
    return section


def prepare_routes(
    client,
    routes: Mapping[tuple[str, str], Route],
    prefix: str,
    fields: Sequence[EnrichedField] | None,
) -> list[str]:
    """Create the missing indices; give enriched ones every enrichment field.

    ``fields`` is None for unenriched runs. After creating, the markers are checked
    again (another process may have created an index meanwhile), still before any
    event is written. Returns the names created.
    """
    created = []
    for (stats_type, _month), route in sorted(routes.items()):
        if route.create:
            body = new_index_body(stats_type, prefix, route.create == "enriched")
            response = client.indices.create(index=route.index, body=body, ignore=400)
            if response.get("acknowledged"):
                created.append(route.index)
        if fields is not None:
            add_missing_properties(
                client, route.index, enrichment_properties(stats_type, fields)
            )
        elif index_state(client, route.index).enriched:
            raise GenerationRefused(
                f"{route.index} was created meanwhile with enriched events; "
                "nothing written"
            )
    return created
