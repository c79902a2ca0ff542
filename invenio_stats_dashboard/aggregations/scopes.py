"""The scopes a run aggregates by default (04 §7.1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from invenio_search.utils import prefix_index

from ..communities import COMMUNITIES_ALIAS, GLOBAL_SCOPE
from ..custom_fields.fields import DASHBOARD_ENABLED_FIELD, is_dashboard_enabled
from ..search_indices.paging import iter_hits


def default_scopes(client, config: Mapping[str, Any]) -> list[str]:
    """Return every eligible community (full scan, no size cap), then ``global``.

    With ``STATS_DASHBOARD_COMMUNITY_OPT_IN`` on, eligible means the community's
    ``stats:dashboard_enabled`` is exactly true; otherwise every community is.
    ``global`` is always aggregated, whatever the dashboard flags say. Pages hold
    ``COMMUNITY_STATS_FILTER_AGGREGATION_SIZE`` communities; every page is read.
    """
    opt_in = bool(config.get("STATS_DASHBOARD_COMMUNITY_OPT_IN", True))
    scopes = [
        hit["_source"]["id"]
        for hit in iter_hits(
            client,
            index=prefix_index(COMMUNITIES_ALIAS),
            body={"_source": ["id", f"custom_fields.{DASHBOARD_ENABLED_FIELD}"]},
            sort=[{"id": "asc"}],
            page_size=int(config.get("COMMUNITY_STATS_FILTER_AGGREGATION_SIZE", 1000)),
        )
        if is_dashboard_enabled(hit["_source"].get("custom_fields"), opt_in)
    ]
    return [*scopes, GLOBAL_SCOPE]
