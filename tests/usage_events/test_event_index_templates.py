"""The v2 event templates are in place before invenio-stats indexes an event (09 §4)."""

from datetime import datetime

from helpers.factories import emit_view, make_record, make_user, search_events
from invenio_search.proxies import current_search_client
from invenio_stats.tasks import process_events


def test_process_events_task_puts_the_template_first(
    app, running_app, clear_stats_indices, stats_dashboard
):
    """09 §9 #9, mechanism 3: the Celery ``task_prerun`` ensure runs before indexing."""
    prefix = app.config["SEARCH_INDEX_PREFIX"]
    template = f"{prefix}record-view-v2.0.0"
    current_search_client.indices.delete_index_template(name=template)
    stats_dashboard._search_ready = False  # as in a fresh worker process

    uploader = make_user("viewer-test@example.org")
    record = make_record(uploader, files={"a.pdf": 10})
    when = datetime(2023, 7, 1, 12, 0, 5)
    emit_view(record, when, ip="8.8.8.8")
    process_events.delay(["record-view"])  # through Celery (eager in tests)

    assert current_search_client.indices.exists_index_template(name=template)
    (hit,) = search_events("record-view", {"term": {"recid": record.id}})
    assert hit["_index"] == f"{prefix}events-stats-record-view-2023-07"
    assert hit["_source"]["timestamp"] == "2023-07-01T12:00:05"
    mapping = current_search_client.indices.get_mapping(index=hit["_index"])
    meta = mapping[hit["_index"]]["mappings"]["_meta"]
    assert meta["schema"] == "record-view-v2.0.0"
    assert meta["stats_dashboard_enriched"] is True
