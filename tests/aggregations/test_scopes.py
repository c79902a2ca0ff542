"""Which scopes a run aggregates (04 §7.1) and slugs resolved to UUIDs (§12 row 19)."""

from datetime import UTC, datetime

import pytest
from helpers.communities import make_community, refresh_communities_index
from helpers.oracle.membership import MembershipEvent
from helpers.oracle.records import Version
from helpers.records_index import delete_versions, index_events, index_versions
from helpers.users import make_user
from invenio_search import current_search_client
from invenio_search.utils import prefix_index

from invenio_stats_dashboard.aggregations.scopes import default_scopes
from invenio_stats_dashboard.cli import cli as root


@pytest.fixture()
def communities(running_app, search_clear, db, stats_dashboard):
    """Three communities: dashboard flag missing, false and true."""
    stats_dashboard.ensure_search_setup(force=True)
    owner = make_user("scopes@example.org")
    missing = make_community(owner, "flag-missing")
    off = make_community(
        owner, "flag-false", custom_fields={"stats:dashboard_enabled": False}
    )
    on = make_community(
        owner, "flag-true", custom_fields={"stats:dashboard_enabled": True}
    )
    refresh_communities_index()
    return missing, off, on


def test_opt_in_keeps_only_enabled_communities_and_global(communities):
    """04 §13 test 13: with opt-in only the ``true`` one (+ global); off: all."""
    missing, off, on = communities
    config = {"STATS_DASHBOARD_COMMUNITY_OPT_IN": True}
    assert default_scopes(current_search_client, config) == [str(on.id), "global"]
    config = {"STATS_DASHBOARD_COMMUNITY_OPT_IN": False}
    assert default_scopes(current_search_client, config) == [
        *sorted(str(c.id) for c in communities),
        "global",
    ]


def test_a_slug_is_resolved_and_documents_use_the_uuid(
    communities, clear_stats_indices, cli
):
    """Must-not-repeat 19: ``--community-id flag-false`` writes under the UUID."""
    _, off, _ = communities
    scope = str(off.id)
    moment = datetime(2025, 4, 1, 10, tzinfo=UTC)
    versions = {"slug-v1": Version("slug-v1", "slug-p1", "u1")}
    index_versions(versions)
    index_events([MembershipEvent("slug-v1", scope, "added", moment, moment)])
    try:
        result = cli(
            root,
            "aggregate",
            "--community-id",
            "flag-false",
            "--aggregation-type",
            "community-records-delta-added-agg",
            "--end-date",
            "2025-04-02",
        )
        assert result.exit_code == 0, result.output
        index = prefix_index("stats-community-records-delta-added")
        current_search_client.indices.refresh(index=index)
        found = current_search_client.get(
            index=f"{index}-2025", id=f"{scope}-2025-04-01"
        )
        assert found["_source"]["records"]["added"]["metadata_only"] == 1
    finally:
        delete_versions(versions)
