"""App init on bare Flask apps: defaults, overrides, beat and registry merges (09 §3)."""

import logging
from copy import deepcopy

import invenio_app_rdm.config as rdm_config
import pytest
from celery.schedules import crontab
from flask import Flask
from invenio_stats import InvenioStats

from invenio_stats_dashboard import config as default_config
from invenio_stats_dashboard.ext import InvenioStatsDashboard

OUR_VIEW_TEMPLATES = (
    "invenio_stats_dashboard.search_indices.search_templates.record_view"
)
OUR_VIEW_BUILDER = (
    "invenio_stats_dashboard.search_indices.event_builders.record_view_event_builder"
)
RDM_VIEW_BUILDER = "invenio_rdm_records.resources.stats.record_view_event_builder"
AGG_TASK = (
    "invenio_stats_dashboard.tasks.aggregation_tasks.aggregate_community_record_stats"
)
CACHE_TASK = "invenio_stats_dashboard.tasks.cache_tasks.generate_cached_responses_task"


def make_app(**config):
    """A bare Flask app with the extension (and optionally InvenioRDM's stats config)."""
    app = Flask("test")
    app.config.update(config)
    InvenioStatsDashboard(app)
    return app


def rdm_stats_config():
    """InvenioRDM's stats registries, as an instance app holds them."""
    return dict(
        STATS_EVENTS=rdm_config.STATS_EVENTS,
        STATS_AGGREGATIONS=rdm_config.STATS_AGGREGATIONS,
        STATS_QUERIES=rdm_config.STATS_QUERIES,
        CELERY_BEAT_SCHEDULE=rdm_config.CELERY_BEAT_SCHEDULE,
    )


def upper_names():
    return [n for n in dir(default_config) if n.isupper() and not n.startswith("_")]


def test_every_default_loaded():
    """07-C1, 07-C13, 09 §9 #1: every upper-case config name, with its default."""
    app = make_app()
    for name in upper_names():
        assert name in app.config, name
    assert app.config["STATS_CACHE_DEFAULT_TTL"] == 365
    assert app.config["STATS_AGG_REGISTRY_REDIS_DB"] == 8
    assert app.config["STATS_DASHBOARD_REINDEXING_PAUSE_TIMEOUT"] == 600
    assert app.config["STATS_CACHE_GENERATION_WAIT"] == 30
    assert app.config["STATS_CACHE_UNIQUE_COUNTS_TTL"] == 3600
    assert set(app.config["STATS_DASHBOARD_LOCK_CONFIG"]) >= {
        "enabled",
        "aggregation",
        "response_caching",
        "usage_migration",
        "community_events",
    }
    assert app.extensions["invenio-stats-dashboard"].enabled is True


def test_defaults_are_private_copies():
    """Two apps never share a mutable default (09 §3 step 1)."""
    first, second = make_app(), make_app()
    first.config["STATS_DASHBOARD_LOCK_CONFIG"]["aggregation"]["lock_timeout"] = 1
    assert (
        second.config["STATS_DASHBOARD_LOCK_CONFIG"]["aggregation"]["lock_timeout"]
        == (default_config.STATS_DASHBOARD_LOCK_CONFIG["aggregation"]["lock_timeout"])
    )


def test_instance_value_wins():
    app = make_app(COMMUNITY_STATS_CATCHUP_INTERVAL=30, STATS_CACHE_PREFIX="mine")
    assert app.config["COMMUNITY_STATS_CATCHUP_INTERVAL"] == 30
    assert app.config["STATS_CACHE_PREFIX"] == "mine"


def test_beat_flags_off_adds_nothing():
    app = make_app(**rdm_stats_config())
    schedule = app.config["CELERY_BEAT_SCHEDULE"]
    assert "stats-aggregate-community-record-stats" not in schedule
    assert "stats-cache-hourly-generation" not in schedule
    assert "stats-process-events" in schedule  # InvenioRDM's own entries stay


def test_beat_flags_on_adds_both_without_touching_shared_dict():
    """07-C2: exact task names, crontabs and args; 09 §9 #4: shared dict untouched."""
    before = deepcopy(rdm_config.CELERY_BEAT_SCHEDULE)
    app = make_app(
        **rdm_stats_config(),
        COMMUNITY_STATS_SCHEDULED_AGG_TASKS_ENABLED=True,
        COMMUNITY_STATS_SCHEDULED_CACHE_TASKS_ENABLED=True,
    )
    schedule = app.config["CELERY_BEAT_SCHEDULE"]
    agg = schedule["stats-aggregate-community-record-stats"]
    assert agg["task"] == AGG_TASK
    assert agg["schedule"] == crontab(minute=40)
    assert agg["args"] == (
        (
            "community-usage-delta-agg",
            "community-records-delta-added-agg",
            "community-records-snapshot-added-agg",
            "community-usage-snapshot-agg",
        ),
    )
    cache = schedule["stats-cache-hourly-generation"]
    assert cache["task"] == CACHE_TASK
    assert cache["schedule"] == crontab(minute=50)
    assert cache["args"] == ("all", None, False, False, None)
    assert agg["options"] == {"expires": 3300} == cache["options"]
    assert rdm_config.CELERY_BEAT_SCHEDULE == before
    assert (
        "stats-aggregate-community-record-stats" not in rdm_config.CELERY_BEAT_SCHEDULE
    )


def test_beat_override_and_missing_schedule():
    """09 §9 #2, #3; 07 §11 #3: app-config override wins, schedule created if absent."""
    override = {
        "stats-aggregate-community-record-stats": {
            "task": AGG_TASK,
            "schedule": crontab(minute=5),
            "args": (("community-usage-delta-agg",),),
        }
    }
    app = make_app(
        COMMUNITY_STATS_SCHEDULED_AGG_TASKS_ENABLED=True,
        COMMUNITY_STATS_CELERYBEAT_AGG_SCHEDULE=override,
    )
    entry = app.config["CELERY_BEAT_SCHEDULE"]["stats-aggregate-community-record-stats"]
    assert entry["schedule"] == crontab(minute=5)


def test_instance_beat_entry_with_same_key_is_kept():
    mine = {"task": "my.task", "schedule": crontab(minute=1)}
    app = make_app(
        CELERY_BEAT_SCHEDULE={"stats-cache-hourly-generation": mine},
        COMMUNITY_STATS_SCHEDULED_CACHE_TASKS_ENABLED=True,
    )
    assert app.config["CELERY_BEAT_SCHEDULE"]["stats-cache-hourly-generation"] is mine


def test_stats_events_adjusted_not_replaced():
    """09-W4 / 07-C10: preprocessors kept, our templates and builder, others kept."""
    extra = object()
    events = deepcopy(rdm_config.STATS_EVENTS)
    events["record-view"]["params"]["preprocessors"].append(extra)
    before = deepcopy(rdm_config.STATS_EVENTS["record-view"]["event_builders"])
    app = make_app(STATS_EVENTS=events)
    view = app.config["STATS_EVENTS"]["record-view"]
    assert view["templates"] == OUR_VIEW_TEMPLATES
    assert view["event_builders"][0] == OUR_VIEW_BUILDER
    assert view["event_builders"][1:] == before[1:]
    preprocessors = view["params"]["preprocessors"]
    assert extra in preprocessors
    filter_robots = events["record-view"]["params"]["preprocessors"][0]
    assert filter_robots.keywords == {"exclude": True}
    assert preprocessors[0] is filter_robots
    download = app.config["STATS_EVENTS"]["file-download"]
    assert download["templates"].endswith("search_templates.file_download")
    assert rdm_config.STATS_EVENTS["record-view"]["event_builders"] == before


def test_stats_events_use_the_enriched_indexer():
    """07 §8: upstream's EventsIndexer becomes EnrichedEventsIndexer for both types."""
    from invenio_stats.processors import EventsIndexer

    from invenio_stats_dashboard.search_indices.events_indexer import (
        EnrichedEventsIndexer,
    )

    app = make_app(STATS_EVENTS=deepcopy(rdm_config.STATS_EVENTS))
    for event_type in ("record-view", "file-download"):
        assert app.config["STATS_EVENTS"][event_type]["cls"] is EnrichedEventsIndexer
    assert rdm_config.STATS_EVENTS["record-view"]["cls"] is EventsIndexer


def test_stats_events_keep_subclass_and_warn_on_foreign_indexer(caplog):
    """07 §8: a subclass of ours is kept; another class is kept with a warning."""
    from invenio_stats.processors import EventsIndexer

    from invenio_stats_dashboard.search_indices.events_indexer import (
        EnrichedEventsIndexer,
    )

    class Mine(EnrichedEventsIndexer):
        pass

    class Foreign(EventsIndexer):
        pass

    events = deepcopy(rdm_config.STATS_EVENTS)
    events["record-view"]["cls"] = Mine
    events["file-download"]["cls"] = Foreign
    with caplog.at_level(logging.WARNING, logger="invenio_stats_dashboard"):
        app = make_app(STATS_EVENTS=events)
    assert app.config["STATS_EVENTS"]["record-view"]["cls"] is Mine
    assert app.config["STATS_EVENTS"]["file-download"]["cls"] is Foreign
    warnings = [r.getMessage() for r in caplog.records if "Foreign" in r.getMessage()]
    assert len(warnings) == 1 and "not enriched" in warnings[0]


def test_our_builder_delegates_to_upstream(monkeypatch):
    """07 §8: our builder calls the upstream builder and returns its result."""
    from invenio_stats_dashboard.search_indices import event_builders

    calls = []

    def upstream(event, sender_app, **kwargs):
        calls.append((event, kwargs))
        return {**event, "upstream": True}

    monkeypatch.setattr(event_builders, "rdm_record_view_event_builder", upstream)
    result = event_builders.record_view_event_builder({"a": 1}, None, record="r")
    assert result == {"a": 1, "upstream": True}
    assert calls == [({"a": 1}, {"record": "r"})]


def test_aggregations_and_queries_merged(caplog):
    """09-W4: an instance entry of the same name wins, with one info line."""
    mine = {"cls": "my.Aggregator", "templates": "my.templates"}
    aggregations = {**rdm_config.STATS_AGGREGATIONS, "community-events-agg": mine}
    with caplog.at_level(logging.INFO, logger="invenio_stats_dashboard"):
        app = make_app(STATS_AGGREGATIONS=aggregations)
    merged = app.config["STATS_AGGREGATIONS"]
    assert merged["community-events-agg"] is mine
    assert [r for r in caplog.records if "community-events-agg" in r.getMessage()]
    # InvenioRDM's aggregations now use our composable copies (01 §2.1).
    assert merged["record-view-agg"]["templates"].endswith(
        "search_templates.aggr_record_view"
    )
    assert rdm_config.STATS_AGGREGATIONS["record-view-agg"]["templates"].startswith(
        "invenio_rdm_records"
    )
    app = make_app(STATS_AGGREGATIONS={})
    assert set(app.config["STATS_AGGREGATIONS"]) == set(
        default_config.COMMUNITY_STATS_AGGREGATIONS
    )


@pytest.mark.parametrize("stats_first", [True, False])
def test_init_order_does_not_matter(stats_first):
    """09-W3: invenio-stats first, then ours first; with InvenioRDM's config."""
    app = Flask("order")
    app.config.update(rdm_stats_config())
    extensions = [InvenioStats, InvenioStatsDashboard]
    for ext in extensions if stats_first else reversed(extensions):
        ext(app)
    with app.app_context():
        from invenio_stats.proxies import current_stats

        assert (
            current_stats.events_config["record-view"]["templates"]
            == OUR_VIEW_TEMPLATES
        )
        assert "community-events-agg" in current_stats.aggregations


def test_two_apps_in_one_process_are_independent():
    """09 §9 #4: each app gets its own lists and dicts; module defaults untouched."""
    from invenio_communities import config as communities_config

    first = make_app(COMMUNITY_STATS_SCHEDULED_AGG_TASKS_ENABLED=True)
    second = make_app()
    assert (
        "stats-aggregate-community-record-stats" in first.config["CELERY_BEAT_SCHEDULE"]
    )
    assert second.config["CELERY_BEAT_SCHEDULE"] == {}
    names = [f.name for f in second.config["COMMUNITIES_CUSTOM_FIELDS"]]
    assert names.count("stats:dashboard_enabled") == 1
    assert communities_config.COMMUNITIES_CUSTOM_FIELDS == []


def test_disabled_keeps_custom_fields_only():
    """09-W2: disabled → no beat entries or merges; the custom fields stay."""
    app = make_app(
        COMMUNITY_STATS_ENABLED=False,
        COMMUNITY_STATS_SCHEDULED_AGG_TASKS_ENABLED=True,
        **rdm_stats_config(),
    )
    assert app.extensions["invenio-stats-dashboard"].enabled is False
    assert app.config["CELERY_BEAT_SCHEDULE"] is rdm_config.CELERY_BEAT_SCHEDULE
    assert app.config["STATS_EVENTS"] is rdm_config.STATS_EVENTS
    names = {f.name for f in app.config["COMMUNITIES_CUSTOM_FIELDS"]}
    assert names == {"stats:dashboard_enabled", "stats:dashboard_layout"}


def test_template_flag_warning(caplog):
    """01 §3 item 2: a warning names the flag and says index init will fail."""
    with caplog.at_level(logging.WARNING, logger="invenio_stats_dashboard"):
        make_app(STATS_REGISTER_INDEX_TEMPLATES=False)
    messages = [r.getMessage() for r in caplog.records]
    assert any(
        "STATS_REGISTER_INDEX_TEMPLATES" in m and "invenio index init" in m
        for m in messages
    )
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="invenio_stats_dashboard"):
        make_app(STATS_REGISTER_INDEX_TEMPLATES=True)
    assert not [
        r for r in caplog.records if "STATS_REGISTER_INDEX_TEMPLATES" in r.getMessage()
    ]
