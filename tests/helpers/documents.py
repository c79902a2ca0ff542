"""Hand-built documents of every shape of 01 §5, for mapping tests."""

VIEW_EVENT = {
    "timestamp": "2025-03-04T10:11:12",
    "recid": "abcde-12345",
    "parent_recid": "fghij-67890",
    "referrer": "https://example.org/search",
    "country": "DE",
    "visitor_id": "a" * 56,
    "unique_session_id": "b" * 56,
    "updated_timestamp": "2025-03-04T10:11:13.123456",
    "is_robot": False,
    "is_machine": False,
    "unique_id": "ui_abcde-12345",
    "via_api": False,
    "community_ids": ["c0ffee00-0000-4000-8000-000000000001"],
    "resource_type": {
        "id": "dataset",
        "title": {"en": "Dataset", "de": "Datensatz"},
        "props": {"type": "dataset", "subtype": ""},
    },
    "access_status": "open",
    "publisher": "Example Press",
    "languages": [{"id": "eng", "title": {"en": "English"}}],
    "subjects": [{"id": "http://x/1", "subject": "Physics", "scheme": "FOS"}],
    "rights": [
        {
            "id": "cc-by-4.0",
            "title": {"en": "CC BY 4.0"},
            "props": {"url": "https://creativecommons.org/licenses/by/4.0/"},
        }
    ],
    "affiliations": [{"id": "01ggx4157", "name": "CERN"}],
    "funders": [{"id": "00k4n6c32", "name": "European Commission"}],
    "journal_title": "Journal of Examples",
    "file_types": ["pdf", "csv"],
}

DOWNLOAD_EVENT = {
    **VIEW_EVENT,
    "unique_id": "bucket-1_file-1",
    "file_types": ["csv"],
    "bucket_id": "bucket-1",
    "file_id": "file-1",
    "file_key": "data.csv",
    "size": 5_000_000_000,
}

COMMUNITY_EVENT = {
    "record_id": "abcde-12345",
    "community_id": "global",
    "event_type": "added",
    "event_date": "2025-03-04T10:11:12",
    "record_created_date": "2025-03-01T09:00:00",
    "record_published_date": "2025-01-01",
    "is_deleted": False,
    "timestamp": "2025-03-04T10:11:12.345",
    "updated_timestamp": "2025-03-04T10:11:12.345",
}

_RECORD_LEAVES = {"metadata_only": 1, "with_files": 2}

RECORDS_DELTA = {
    "timestamp": "2025-03-05T00:10:00",
    "community_id": "global",
    "period_start": "2025-03-04T00:00:00",
    "period_end": "2025-03-04T23:59:59",
    "records": {"added": _RECORD_LEAVES, "removed": _RECORD_LEAVES},
    "parents": {"added": _RECORD_LEAVES, "removed": _RECORD_LEAVES},
    "files": {
        "added": {"file_count": 3, "data_volume": 12_000_000_000},
        "removed": {"file_count": 0, "data_volume": 0},
    },
    "uploaders": 1,
    "subcounts": {
        "resource_types": [
            {
                "id": "dataset",
                "label": {"en": "Dataset"},
                "records": {"added": _RECORD_LEAVES, "removed": _RECORD_LEAVES},
                "parents": {"added": _RECORD_LEAVES, "removed": _RECORD_LEAVES},
                "files": {
                    "added": {"file_count": 3, "data_volume": 1024},
                    "removed": {"file_count": 0, "data_volume": 0},
                },
            }
        ],
        "publishers": [{"id": "Example Press", "label": "Example Press"}],
    },
    "updated_timestamp": "2025-03-05T00:10:00",
}

RECORDS_SNAPSHOT = {
    "timestamp": "2025-03-05T00:10:00",
    "community_id": "global",
    "snapshot_date": "2025-03-04T00:00:00",
    "total_records": _RECORD_LEAVES,
    "total_parents": _RECORD_LEAVES,
    "total_files": {"file_count": 3, "data_volume": 12_000_000_000},
    "total_uploaders": 1,
    "subcounts": {
        "languages": [
            {
                "id": "eng",
                "label": {"en": "English"},
                "records": _RECORD_LEAVES,
                "parents": _RECORD_LEAVES,
                "files": {"file_count": 3, "data_volume": 1024},
            }
        ]
    },
    "updated_timestamp": "2025-03-05T00:10:00",
}

_VIEW = {
    "total_events": 4,
    "unique_visitors": 2,
    "unique_records": 1,
    "unique_parents": 1,
}
_DOWNLOAD = {**_VIEW, "unique_files": 1, "total_volume": 5_000_000_000}

USAGE_DELTA = {
    "timestamp": "2025-03-05T00:10:00",
    "community_id": "global",
    "period_start": "2025-03-04T00:00:00",
    "period_end": "2025-03-04T23:59:59",
    "totals": {"view": _VIEW, "download": _DOWNLOAD},
    "subcounts": {
        "countries": [{"id": "DE", "label": "DE", "view": _VIEW, "download": _DOWNLOAD}]
    },
    "updated_timestamp": "2025-03-05T00:10:00",
}

USAGE_SNAPSHOT = {
    "timestamp": "2025-03-05T00:10:00",
    "community_id": "global",
    "snapshot_date": "2025-03-04T00:00:00",
    "totals": {"view": _VIEW, "download": _DOWNLOAD},
    "subcounts": {
        "access_statuses": [
            {"id": "open", "label": "open", "view": _VIEW, "download": _DOWNLOAD}
        ],
        "countries": {
            "by_view": [
                {"id": "DE", "label": "DE", "view": _VIEW, "download": _DOWNLOAD}
            ],
            "by_download": [
                {"id": "DE", "label": "DE", "view": _VIEW, "download": _DOWNLOAD}
            ],
        },
    },
    "updated_timestamp": "2025-03-05T00:10:00",
}

AGGREGATION_BOOKMARK = {
    "date": "2025-03-04T00:00:00",
    "aggregation_type": "community-usage-delta-agg",
    "community_id": "global",
}

MIGRATION_BOOKMARK = {
    "task_id": "view-2025-03-reindexing",
    "last_event_id": "2025-03-04T10:11:10-abc",
    "last_event_timestamp": "2025-03-04T10:11:12",
}

SAMPLES_BY_TEMPLATE = {
    "record-view-v2.0.0": ("events-stats-record-view-2025-03", VIEW_EVENT),
    "file-download-v2.0.0": ("events-stats-file-download-2025-03", DOWNLOAD_EVENT),
    "stats-community-events-v1.0.0": ("stats-community-events-2025", COMMUNITY_EVENT),
    "stats-community-records-delta-added-v1.0.0": (
        "stats-community-records-delta-added-2025",
        RECORDS_DELTA,
    ),
    "stats-community-records-snapshot-added-v1.0.0": (
        "stats-community-records-snapshot-added-2025",
        RECORDS_SNAPSHOT,
    ),
    "stats-community-usage-delta-v1.0.0": (
        "stats-community-usage-delta-2025",
        USAGE_DELTA,
    ),
    "stats-community-usage-snapshot-v1.0.0": (
        "stats-community-usage-snapshot-2025",
        USAGE_SNAPSHOT,
    ),
}
"""Template stem → (index name without prefix, one valid document)."""

SAMPLES_BY_BOOKMARK_INDEX = {
    "stats-bookmarks-community": AGGREGATION_BOOKMARK,
    "stats-bookmarks-reindexing": MIGRATION_BOOKMARK,
}
"""Bookmark index name without prefix → one valid document."""
