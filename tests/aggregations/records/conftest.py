"""Record versions and membership events written for one test, removed after it."""

import pytest
from helpers.records_index import delete_versions, index_events, index_versions


@pytest.fixture()
def written(running_app, clear_stats_indices, stats_dashboard):
    """Write versions and events; delete the versions afterwards."""
    stats_dashboard.ensure_search_setup(force=True)
    created = []

    def write(versions, events, extra_funder_names=None):
        created.extend(index_versions(versions, extra_funder_names))
        index_events(events)

    yield write
    if created:
        delete_versions(created)
