"""Shared pytest setup: an InvenioRDM 13 app on PostgreSQL, OpenSearch and Redis.

The services come from ``scripts/services.sh`` (``run-tests.sh`` exports their
environment). Every session uses its own search prefix, so leftovers of earlier runs
never interfere and prefix handling is exercised for real.
"""

import os
import secrets

import pytest
from helpers.isolation import (
    broker_transport_options,
    session_database_uri,
    session_queues_connection_pool,
)
from helpers.services import redis_url
from helpers.webpack import EmptyManifestLoader

pytest_plugins = (
    "helpers.fixtures",
    "helpers.factory_fixtures",
    "helpers.community_event_fixtures",
)

SESSION_PREFIX = f"test-{secrets.token_hex(4)}-"
"""``SEARCH_INDEX_PREFIX`` of this test session (09 §8.3)."""

REDIS_DBS = {"cache": 0, "broker": 1, "stats_cache": 7, "agg_registry": 8}
"""Dedicated Redis databases of the test session; only these are ever flushed."""


@pytest.fixture(scope="module")
def db_uri():
    """A PostgreSQL database of this session's own (created on first use)."""
    base = os.environ.get("SQLALCHEMY_DATABASE_URI")
    if not base:
        pytest.fail("SQLALCHEMY_DATABASE_URI is not set: run scripts/services.sh env")
    return session_database_uri(base, SESSION_PREFIX)


@pytest.fixture(scope="module")
def create_app(instance_path):
    """InvenioRDM's own factory: UI app with the API app mounted at ``/api``."""
    from invenio_app.factory import create_app as factory

    return factory


@pytest.fixture(scope="module")
def app_config(app_config):
    """Overlay pytest-invenio's test config with the project's services."""
    cache = redis_url(REDIS_DBS["cache"])
    broker = redis_url(REDIS_DBS["broker"])
    app_config.update(
        SEARCH_INDEX_PREFIX=SESSION_PREFIX,
        CACHE_TYPE="redis",
        CACHE_REDIS_URL=cache,
        ACCOUNTS_SESSION_REDIS_URL=cache,
        RATELIMIT_STORAGE_URI=cache,
        IIIF_CACHE_REDIS_URL=cache,
        COMMUNITIES_IDENTITIES_CACHE_REDIS_URL=cache,
        COMMUNITIES_IDENTITIES_CACHE_REDIS_PREFIX=f"cache::{SESSION_PREFIX}identity",
        BROKER_URL=broker,
        CELERY_BROKER_URL=broker,
        QUEUES_BROKER_URL=broker,
        CELERY_BROKER_TRANSPORT_OPTIONS=broker_transport_options(SESSION_PREFIX),
        QUEUES_CONNECTION_POOL=session_queues_connection_pool,
        CACHE_KEY_PREFIX=f"cache::{SESSION_PREFIX}",
        STATS_CACHE_PREFIX=f"cache::{SESSION_PREFIX}stats_dashboard",
        STATS_AGG_REGISTRY_PREFIX=f"cache::{SESSION_PREFIX}stats_agg_registry",
        MAIL_SUPPRESS_SEND=True,
        DATACITE_ENABLED=False,
        STATS_REGISTER_INDEX_TEMPLATES=True,
        COMMUNITY_STATS_ENABLED=True,
        COMMUNITY_STATS_SCHEDULED_AGG_TASKS_ENABLED=False,
        COMMUNITY_STATS_SCHEDULED_CACHE_TASKS_ENABLED=False,
        STATS_CACHE_REDIS_DB=REDIS_DBS["stats_cache"],
        STATS_AGG_REGISTRY_REDIS_DB=REDIS_DBS["agg_registry"],
        THEME_FRONTPAGE=False,
        WEBPACKEXT_MANIFEST_LOADER=EmptyManifestLoader,
    )
    return app_config


def pytest_report_header(config):
    """Show where the session's services are."""
    return [
        f"search prefix: {SESSION_PREFIX}",
        f"search hosts: {os.environ.get('SEARCH_HOSTS', 'localhost:9200 (default)')}",
        "database: "
        + session_database_uri(
            os.environ.get("SQLALCHEMY_DATABASE_URI", "postgresql:///invenio"),
            SESSION_PREFIX,
        ),
    ]


def pytest_sessionfinish(session, exitstatus):
    """Remove what this session created: indices, templates, database, Redis keys."""
    _drop_session_database()
    _delete_session_redis_keys()
    import ast

    from opensearchpy import OpenSearch

    hosts = ast.literal_eval(
        os.environ.get("SEARCH_HOSTS", "[{'host': 'localhost', 'port': 9200}]")
    )
    client = OpenSearch(hosts=hosts, timeout=30)
    try:
        client.indices.delete(
            index=f"{SESSION_PREFIX}*,backup-{SESSION_PREFIX}*",
            ignore_unavailable=True,
            allow_no_indices=True,
            expand_wildcards="all",
        )
        client.indices.delete_index_template(name=f"{SESSION_PREFIX}*", ignore=404)
        client.indices.delete_template(name=f"{SESSION_PREFIX}*", ignore=404)
    except Exception as error:  # cleanup must not hide the real test result
        print(f"cleanup of {SESSION_PREFIX}* failed: {error}")


def _drop_session_database():
    base = os.environ.get("SQLALCHEMY_DATABASE_URI")
    if not base:
        return
    from sqlalchemy_utils.functions import database_exists, drop_database

    uri = session_database_uri(base, SESSION_PREFIX)
    try:
        if database_exists(uri):
            drop_database(uri)
    except Exception as error:  # cleanup must not hide the real test result
        print(f"dropping the session database failed: {error}")


def _delete_session_redis_keys():
    import redis

    patterns = {
        REDIS_DBS["broker"]: f"{SESSION_PREFIX}*",
        REDIS_DBS["cache"]: f"cache::{SESSION_PREFIX}*",
        REDIS_DBS["stats_cache"]: f"cache::{SESSION_PREFIX}*",
        REDIS_DBS["agg_registry"]: f"cache::{SESSION_PREFIX}*",
    }
    try:
        for db, pattern in patterns.items():
            client = redis.Redis.from_url(redis_url(db))
            for key in client.scan_iter(match=pattern, count=500):
                client.delete(key)
    except Exception as error:  # cleanup must not hide the real test result
        print(f"deleting the session's Redis keys failed: {error}")
