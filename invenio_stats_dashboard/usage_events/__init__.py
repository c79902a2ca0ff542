"""Usage events: enrichment of view and download events and their migration.

The shared extraction functions that turn a record's indexed ``_source`` into
enriched event fields live in :mod:`invenio_stats_dashboard.usage_events.extraction`.
"""
