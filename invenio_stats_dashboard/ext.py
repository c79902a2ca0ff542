"""Flask extension: configuration, custom fields, registries and search setup (09 §3–§4)."""

import logging
import time
from copy import deepcopy

from flask import Flask, current_app

from . import config as default_config
from .community_events.components import merged_component_lists
from .community_events.hook_check import HookStatus, warn_if_hooks_missing
from .config_validation import validate_config
from .custom_fields import merge_custom_fields_config
from .proxies import EXTENSION_KEY
from .registries import (
    merge_beat_schedule,
    merge_named_entries,
    merge_rdm_aggregation_templates,
    merge_stats_events,
)
from .search_indices.templates import ensure_search_setup
from .services import CommunityStatsService, EventReindexingService
from .usage_events.event_mappings import ensure_event_templates
from .usage_events.fields import configured_fields

logger = logging.getLogger(__name__)


FINALIZE_REQUEST_TIMEOUT = 2
"""Seconds one search request may take at finalize, so a down cluster never blocks."""

FINALIZE_TIME_BUDGET = 5
"""Seconds the whole finalize ensure may take (09 §4, mechanism 1)."""

TEMPLATE_FLAG_WARNING = (
    "STATS_REGISTER_INDEX_TEMPLATES is not True: the invenio-stats-dashboard setup "
    "requires it. 'invenio index init' will fail on the extension's composable "
    "templates until it is set; the extension still puts its own templates itself."
)


class InvenioStatsDashboard:
    """invenio-stats-dashboard extension."""

    def __init__(self, app: Flask | None = None):
        """Extension initialisation."""
        self.enabled = False
        self.hook_status: HookStatus | None = None
        self.service: CommunityStatsService | None = None
        self.reindexing_service: EventReindexingService | None = None
        self._search_ready = False
        if app:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Flask application initialisation, in the order of 09 §3."""
        instance_keys = self.init_config(app)
        validate_config(app.config, instance_keys=instance_keys, logger=logger)
        self.enabled = bool(app.config["COMMUNITY_STATS_ENABLED"])
        app.extensions[EXTENSION_KEY] = self
        # The custom fields stay registered when disabled, so communities holding
        # ``stats:*`` values can still be edited (07 §1.6).
        app.config.update(merge_custom_fields_config(app.config))
        if not self.enabled:
            return
        self.service = CommunityStatsService()
        self.reindexing_service = EventReindexingService()
        self.init_beat_schedule(app)
        self.init_stats_registries(app)
        app.config.update(merged_component_lists(app.config))
        _register_tasks()
        self.hook_status = warn_if_hooks_missing(logger)
        if app.config.get("STATS_REGISTER_INDEX_TEMPLATES") is not True:
            logger.warning(TEMPLATE_FLAG_WARNING)
        _connect_task_prerun()

    @staticmethod
    def init_config(app: Flask) -> set[str]:
        """Set a private copy of every default; return the names the instance set."""
        names = [
            n for n in dir(default_config) if n.isupper() and not n.startswith("_")
        ]
        instance_keys = {name for name in names if name in app.config}
        for name in names:
            app.config.setdefault(name, deepcopy(getattr(default_config, name)))
        return instance_keys

    @staticmethod
    def init_beat_schedule(app: Flask) -> None:
        """Add the enabled beat entries to a new ``CELERY_BEAT_SCHEDULE`` (07 §7.1)."""
        schedule = merge_beat_schedule(app.config)
        app.config["CELERY_BEAT_SCHEDULE"] = schedule
        celery_ext = app.extensions.get("invenio-celery")
        if celery_ext is not None:
            celery_ext.celery.conf.beat_schedule = schedule

    @staticmethod
    def init_stats_registries(app: Flask) -> None:
        """Merge our entries into the invenio-stats registries (09 §3 step 8)."""
        config = app.config
        config["STATS_EVENTS"] = merge_stats_events(config.get("STATS_EVENTS"))
        aggregations = merge_rdm_aggregation_templates(config.get("STATS_AGGREGATIONS"))
        config["STATS_AGGREGATIONS"] = merge_named_entries(
            aggregations, config["COMMUNITY_STATS_AGGREGATIONS"], "STATS_AGGREGATIONS"
        )
        config["STATS_QUERIES"] = merge_named_entries(
            config.get("STATS_QUERIES"),
            config["COMMUNITY_STATS_QUERIES"],
            "STATS_QUERIES",
        )

    def ensure_search_setup(self, force: bool = False, **request) -> dict | None:
        """Put templates, bookmark indices and the community mapping once per process.

        Every writer calls this before its first write; it costs one flag check after
        the first success.
        """
        if self._search_ready and not force:
            return None
        from invenio_search.proxies import current_search_client

        prefix = current_app.config.get("SEARCH_INDEX_PREFIX") or ""
        result = ensure_search_setup(current_search_client, prefix, **request)
        # Subcounts may map extra event fields: the event templates carry them too.
        result["event_templates"] = ensure_event_templates(
            current_search_client,
            prefix,
            configured_fields(current_app.config),
            **request,
        )
        # Without the communities index (before ``invenio index init``) the next
        # call tries again, so the ``stats:dashboard_enabled`` mapping is never missed.
        self._search_ready = result["dashboard_enabled_mapping"]
        return result


def _register_tasks() -> None:
    """Import the task modules so a Celery worker knows the tasks the hooks queue."""
    from .tasks import (  # noqa: F401
        aggregation_tasks,
        community_events_tasks,
        usage_reindexing_tasks,
    )


def _finalize(app: Flask) -> None:
    """Try the search setup once, bounded in time; log failures, never raise."""
    ext = app.extensions.get(EXTENSION_KEY)
    if ext is None or not ext.enabled:
        return
    started = time.monotonic()
    try:
        from invenio_search.proxies import current_search_client

        if not current_search_client.ping(request_timeout=FINALIZE_REQUEST_TIMEOUT):
            raise ConnectionError("the search cluster did not answer the ping")
        ext.ensure_search_setup(request_timeout=FINALIZE_TIME_BUDGET)
    except Exception as error:  # the app must start while OpenSearch is down
        logger.warning(
            "invenio-stats-dashboard: index templates not installed at startup "
            "(%s); they will be put before the first write. (%.1fs)",
            error,
            time.monotonic() - started,
        )


def finalize_app(app: Flask) -> None:
    """Finalize the UI app: search setup (menus come with the dashboard views)."""
    _finalize(app)


def api_finalize_app(app: Flask) -> None:
    """Finalize the API app: search setup, so the API app alone installs it."""
    _finalize(app)


_prerun_connected = False


def _connect_task_prerun() -> None:
    """Ensure the event templates before invenio-stats processes events (09 §4, 3)."""
    global _prerun_connected
    if _prerun_connected:
        return
    from celery.signals import task_prerun

    task_prerun.connect(_before_process_events, weak=False)
    _prerun_connected = True


def _before_process_events(sender=None, **kwargs) -> None:
    """Run the once-per-process ensure before ``process_events``."""
    if getattr(sender, "name", None) != "invenio_stats.tasks.process_events":
        return
    ext = current_app.extensions.get(EXTENSION_KEY)
    if ext is not None and ext.enabled:
        ext.ensure_search_setup()
