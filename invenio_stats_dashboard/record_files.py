"""File entries of record versions whose index document hides them (04 §11, 01 §7).

When ``access.record`` is public and ``access.files`` restricted, InvenioRDM indexes
only ``files.enabled``. Readers that need the entries (usage enrichment, the records
aggregators) read them from the database through the record's file manager, with
``ext`` as invenio-records-resources computes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def hides_file_entries(source: Mapping[str, Any]) -> bool:
    """Whether an indexed version has files whose entries the index left out."""
    files = source.get("files") or {}
    return bool(files.get("enabled")) and not files.get("entries")


def database_file_entries(record_uuids: Iterable[str]) -> dict[str, list[dict]]:
    """Return ``{record uuid: [{key, ext, size}, ...]}`` read from the database."""
    from invenio_rdm_records.records.api import RDMRecord

    uuids = sorted({str(uuid) for uuid in record_uuids if uuid})
    if not uuids:
        return {}
    entries: dict[str, list[dict]] = {}
    for record in RDMRecord.get_records(uuids, with_deleted=True):
        entries[str(record.id)] = [
            {
                "key": key,
                "ext": file_record.file.ext if file_record.file else None,
                "size": file_record.file.file_model.size
                if file_record.file and file_record.file.file_model
                else None,
            }
            for key, file_record in record.files.entries.items()
        ]
    return entries
