"""Real records and real events through InvenioRDM's services (04 §4.3, §5.3).

The other aggregation tests write minimal documents straight into the indices.
Here the records are made by the RDM services, join the community through an
accepted request (the live writer logs the membership), and the usage events go
through invenio-stats' real pipeline and the extension's enrichment. Expected
values come from what the test created:

- a public record whose files are restricted: the records index leaves its file
  entries out, so its file count and volume must come from the database, and its
  files give no ``file_types`` item (04 §11);
- a record with restricted metadata (04 §13 test 26): it counts in every total and
  in ``access_statuses``, never in a metadata item, and its view counts in the
  usage totals and ``access_statuses`` only.
"""

import pytest
from helpers.communities import make_community
from helpers.community_event_log import create_fast_refresh_indices
from helpers.records import make_record
from helpers.usage_events import emit_view, process_usage_events
from helpers.users import make_user
from invenio_search import current_search_client
from invenio_search.utils import prefix_index

from invenio_stats_dashboard.aggregations.base import RunOptions
from invenio_stats_dashboard.aggregations.records.delta_aggregator import (
    RecordsDeltaAggregator,
)
from invenio_stats_dashboard.aggregations.usage.delta_aggregator import (
    UsageDeltaAggregator,
)
from invenio_stats_dashboard.timeutils import utc_now
from invenio_stats_dashboard.usage_events.event_mappings import IndexFieldGuard

FILES = {"scan.pdf": 1000, "table.csv": 500}
METADATA_ITEMS = ("resource_types", "languages", "rights", "publishers", "subjects")


@pytest.fixture()
def real_records(running_app, db, clear_stats_indices, stats_dashboard):
    """A public record with restricted files and a restricted metadata-only one."""
    stats_dashboard.ensure_search_setup(force=True)
    create_fast_refresh_indices()
    IndexFieldGuard.forget()  # the event indices of earlier tests are gone
    owner = make_user("real-records@example.org")
    community = make_community(owner, "real-records-c")
    open_metadata = make_record(
        owner,
        communities=[community],
        files=FILES,
        access={"record": "public", "files": "restricted"},
        resource_type="dataset",
        languages=["eng"],
    )
    hidden = make_record(
        owner,
        communities=[community],
        access={"record": "restricted", "files": "restricted"},
        resource_type="publication-article",
        languages=["deu"],
    )
    return str(community.id), open_metadata, hidden


def stored_today(alias, scope):
    """The scope's document of today under ``alias``."""
    index = prefix_index(alias)
    current_search_client.indices.refresh(index=index)
    day = utc_now().date().isoformat()
    return current_search_client.get(
        index=prefix_index(f"{alias}-{day[:4]}"), id=f"{scope}-{day}"
    )["_source"]


def item_ids(document, key):
    """The ids of one subcount's items."""
    return sorted(item["id"] for item in document["subcounts"][key])


def test_files_hidden_by_the_index_and_restricted_metadata(real_records):
    scope, open_metadata, hidden = real_records
    indexed = current_search_client.search(
        index=prefix_index("rdmrecords-records"),
        body={"query": {"term": {"id": open_metadata.id}}},
    )["hits"]["hits"][0]["_source"]
    assert indexed["files"]["enabled"] and not indexed["files"].get("entries")
    RecordsDeltaAggregator().run_pass(scope, RunOptions())
    delta = stored_today("stats-community-records-delta-added", scope)

    assert delta["records"]["added"] == {"with_files": 1, "metadata_only": 1}
    assert delta["parents"]["added"] == {"with_files": 1, "metadata_only": 1}
    assert delta["files"]["added"] == {
        "file_count": len(FILES),
        "data_volume": sum(FILES.values()),
    }
    # restricted files count in the totals above but give no file_types item
    # (04 §11, decision), however public the record's metadata is
    assert delta["subcounts"]["file_types"] == []
    # the restricted record is in access_statuses, and in no metadata item
    statuses = {
        item["id"]: item["records"]["added"]
        for item in delta["subcounts"]["access_statuses"]
    }
    assert statuses[hidden.data["access"]["status"]]["metadata_only"] == 1
    assert sum(s["with_files"] + s["metadata_only"] for s in statuses.values()) == 2
    assert item_ids(delta, "resource_types") == ["dataset"]
    assert item_ids(delta, "languages") == ["eng"]
    for key in METADATA_ITEMS:
        for item in delta["subcounts"][key]:
            assert item["records"]["added"]["metadata_only"] == 0, key


def test_a_view_of_restricted_metadata_counts_in_totals_only(real_records):
    scope, _, hidden = real_records
    emit_view(hidden, utc_now())
    process_usage_events()
    UsageDeltaAggregator().run_pass(scope, RunOptions())
    delta = stored_today("stats-community-usage-delta", scope)

    assert delta["totals"]["view"]["total_events"] == 1
    assert delta["totals"]["view"]["unique_records"] == 1
    # GeoIP gives no country for the test client's address, so ``countries``
    # stays empty here; the index-based usage tests cover countries.
    assert item_ids(delta, "access_statuses") == [hidden.data["access"]["status"]]
    for key, items in delta["subcounts"].items():
        if key != "access_statuses":
            assert items == [], key
