"""The standard usage event set, indexed for each test that asks for it."""

import pytest
from helpers.usage_expectations import index_standard_set


@pytest.fixture()
def usage_events(running_app, clear_stats_indices, stats_dashboard):
    """Index the standard set; return it as (views, downloads)."""
    stats_dashboard.ensure_search_setup(force=True)
    return index_standard_set()
