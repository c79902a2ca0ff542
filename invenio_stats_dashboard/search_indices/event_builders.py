"""Event builders registered for the ``record-view`` and ``file-download`` events.

They stand in the place of InvenioRDM's builders of the same name (07 §8) and call them
first, so upstream behaviour keeps working. Enrichment does not happen here: it runs in
the events indexer, off the web request (03 §3.2).
"""

from invenio_rdm_records.resources.stats import (
    file_download_event_builder as rdm_file_download_event_builder,
)
from invenio_rdm_records.resources.stats import (
    record_view_event_builder as rdm_record_view_event_builder,
)


def record_view_event_builder(event, sender_app, **kwargs):
    """Build a record-view event exactly as InvenioRDM does."""
    return rdm_record_view_event_builder(event, sender_app, **kwargs)


def file_download_event_builder(event, sender_app, **kwargs):
    """Build a file-download event exactly as InvenioRDM does."""
    return rdm_file_download_event_builder(event, sender_app, **kwargs)


UPSTREAM_BUILDERS = {
    "record-view": "invenio_rdm_records.resources.stats.record_view_event_builder",
    "file-download": "invenio_rdm_records.resources.stats.file_download_event_builder",
}
"""Import paths of the InvenioRDM builders our builders replace, per event type."""

OUR_BUILDERS = {
    "record-view": f"{__name__}.record_view_event_builder",
    "file-download": f"{__name__}.file_download_event_builder",
}
"""Import paths of our builders, per event type."""
