"""Companion ``invenio custom-fields communities init|exists`` commands (06 §9)."""

import pytest
from invenio_communities.proxies import current_communities
from invenio_search.utils import build_alias_name

from invenio_stats_dashboard.cli.custom_fields import custom_fields


def _communities_mapping(client):
    alias = build_alias_name(current_communities.service.config.record_cls.index._name)
    mapping = client.indices.get_mapping(index=alias)
    return next(iter(mapping.values()))["mappings"]["properties"]


@pytest.fixture()
def fresh_communities_index(app, search_clear):
    """The communities index as ``invenio index init`` leaves it: no stats fields."""
    yield search_clear


def test_init_layout_initialises_both_fields(app, fresh_communities_index, cli):
    """Setup guide 3a, notes #3: naming either stats field initialises both."""
    client = fresh_communities_index
    custom = _communities_mapping(client).get("custom_fields", {}).get("properties", {})
    assert "stats:dashboard_layout" not in custom

    result = cli(custom_fields, "communities", "init", "stats:dashboard_layout")
    assert result.exit_code == 0, result.output
    assert "stats:dashboard_layout: created" in result.output
    assert "stats:dashboard_enabled" in result.output

    custom = _communities_mapping(client)["custom_fields"]["properties"]
    assert custom["stats:dashboard_layout"] == {"type": "object", "enabled": False}
    assert custom["stats:dashboard_enabled"] == {"type": "boolean"}

    result = cli(custom_fields, "communities", "exists", "stats:dashboard_layout")
    assert result.exit_code == 0
    assert "Field stats:dashboard_layout exists" in result.output

    again = cli(custom_fields, "communities", "init", "-f", "stats:dashboard_layout")
    assert again.exit_code == 0
    assert "stats:dashboard_layout: already present" in again.output


def test_exists_reports_missing_field(app, fresh_communities_index, cli):
    result = cli(custom_fields, "communities", "exists", "stats:nothing_here")
    assert result.exit_code == 1
    assert "does not exist" in result.output


def test_init_unknown_field_is_usage_error(app, fresh_communities_index, cli):
    before = _communities_mapping(fresh_communities_index)
    result = cli(custom_fields, "communities", "init", "stats:unknown")
    assert result.exit_code == 2
    assert _communities_mapping(fresh_communities_index) == before


def test_community_stats_group_help(app, cli):
    from invenio_stats_dashboard.cli import cli as community_stats

    result = cli(community_stats, "--help")
    assert result.exit_code == 0
    assert "community-stats" in result.output
