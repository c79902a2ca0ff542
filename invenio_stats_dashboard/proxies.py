"""Proxies to the extension's objects on the current app (09 §6)."""

from typing import Any

from flask import current_app
from werkzeug.local import LocalProxy

EXTENSION_KEY = "invenio-stats-dashboard"


def _extension():
    try:
        return current_app.extensions[EXTENSION_KEY]
    except KeyError:
        raise RuntimeError(
            "invenio-stats-dashboard is not installed on this app"
        ) from None


current_community_stats: Any = LocalProxy(_extension)
"""The :class:`~invenio_stats_dashboard.ext.InvenioStatsDashboard` of the current app."""


def _community_stats_service():
    extension = _extension()
    if not extension.enabled:
        raise RuntimeError(
            "invenio-stats-dashboard services are unavailable: "
            "COMMUNITY_STATS_ENABLED is False"
        )
    return extension.service


current_community_stats_service: Any = LocalProxy(_community_stats_service)
"""The :class:`~invenio_stats_dashboard.services.CommunityStatsService` of the app."""


def _event_reindexing_service():
    extension = _extension()
    if not extension.enabled:
        raise RuntimeError(
            "invenio-stats-dashboard services are unavailable: "
            "COMMUNITY_STATS_ENABLED is False"
        )
    return extension.reindexing_service


current_event_reindexing_service: Any = LocalProxy(_event_reindexing_service)
"""The :class:`~invenio_stats_dashboard.services.EventReindexingService` of the app."""
