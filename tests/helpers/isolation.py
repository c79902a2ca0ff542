"""Keep concurrent test sessions apart on shared services.

Two sessions (two developers, or helpers running suites side by side) would otherwise
share one PostgreSQL database, the broker's queues and the cache keys, and consume or
drop each other's rows and events. Each session gets its own database and prefixes
its broker and cache keys with its search prefix.
"""

from urllib.parse import urlparse, urlunparse


def session_database_uri(base_uri: str, session_prefix: str) -> str:
    """Return ``base_uri`` with a database name of its own for this session."""
    parts = urlparse(base_uri)
    name = parts.path.lstrip("/") or "invenio"
    suffix = session_prefix.strip("-").replace("-", "_")
    return urlunparse(parts._replace(path=f"/{name}_{suffix}"))


def broker_transport_options(session_prefix: str) -> dict:
    """Kombu transport options that prefix every broker key with the session's."""
    return {"global_keyprefix": session_prefix}


def session_queues_connection_pool():
    """``QUEUES_CONNECTION_POOL`` whose connections carry the session key prefix."""
    from flask import current_app
    from kombu import Connection
    from kombu.pools import connections

    config = current_app.config
    url = config.get("QUEUES_BROKER_URL") or config["BROKER_URL"]
    options = config.get("CELERY_BROKER_TRANSPORT_OPTIONS") or {}
    return connections[Connection(url, transport_options=options)]
