"""Fixtures of the community-events tests: an empty log, only new records."""

import pytest

from helpers.community_event_log import LiveWriters, clear_records_index
from helpers.factory_fixtures import delete_stats_indices


@pytest.fixture()
def log(running_app, clear_stats_indices, stats_dashboard, set_config):
    """An empty log that the live writers leave alone; returns their switch."""
    delete_stats_indices()
    stats_dashboard.ensure_search_setup(force=True)
    writers = LiveWriters(set_config)
    writers.off()
    return writers


@pytest.fixture()
def only_new_records(running_app):
    """An unfiltered run examines exactly the versions the test creates."""
    clear_records_index()
