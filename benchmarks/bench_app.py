"""What every benchmark shares: the app on the services of ``scripts/services.sh``."""

import ast
import os
import tempfile


def build_app(prefix):
    """InvenioRDM's API app on the services of ``scripts/services.sh env``."""
    os.environ.setdefault("INVENIO_INSTANCE_PATH", tempfile.mkdtemp(prefix="bench-"))
    from invenio_app.factory import create_api

    cache = os.environ.get("CACHE_REDIS_URL", "redis://127.0.0.1:6379/0")
    hosts = os.environ.get("SEARCH_HOSTS", "[{'host': '127.0.0.1', 'port': 9200}]")
    return create_api(
        SEARCH_INDEX_PREFIX=prefix,
        SEARCH_HOSTS=ast.literal_eval(hosts),
        SQLALCHEMY_DATABASE_URI=os.environ.get(
            "SQLALCHEMY_DATABASE_URI",
            "postgresql+psycopg2://invenio:invenio@127.0.0.1:5432/invenio",
        ),
        CACHE_TYPE="redis",
        CACHE_REDIS_URL=cache,
        ACCOUNTS_SESSION_REDIS_URL=cache,
        RATELIMIT_STORAGE_URI=cache,
        CELERY_BROKER_URL=os.environ.get("BROKER_URL", "redis://127.0.0.1:6379/1"),
        STATS_CACHE_PREFIX=f"{prefix}stats",
        STATS_REGISTER_INDEX_TEMPLATES=True,
        COMMUNITY_STATS_ENABLED=True,
        SECRET_KEY="benchmark",
        DATACITE_ENABLED=False,
    )
