"""Run ``invenio`` / ``community-stats`` in a real subprocess against the test services.

The subprocess builds its app from an ``invenio.cfg`` written into a temporary instance
path, with the same services and search prefix as the test app, so background jobs and
console scripts are exercised for real (09 §8.3 ``cli_process``). It uses its own
database connection: tests that need it must commit their rows (``database``, not
``db``).
"""

import os
import subprocess
import sys
from pathlib import Path

FORWARDED_CONFIG = (
    "SQLALCHEMY_DATABASE_URI",
    "SEARCH_HOSTS",
    "SEARCH_INDEX_PREFIX",
    "CACHE_TYPE",
    "CACHE_REDIS_URL",
    "ACCOUNTS_SESSION_REDIS_URL",
    "RATELIMIT_STORAGE_URI",
    "IIIF_CACHE_REDIS_URL",
    "COMMUNITIES_IDENTITIES_CACHE_REDIS_URL",
    "COMMUNITIES_IDENTITIES_CACHE_REDIS_PREFIX",
    "BROKER_URL",
    "CELERY_BROKER_URL",
    "QUEUES_BROKER_URL",
    "CELERY_BROKER_TRANSPORT_OPTIONS",
    "QUEUES_CONNECTION_POOL",
    "CACHE_KEY_PREFIX",
    "SECRET_KEY",
    "SECURITY_PASSWORD_SALT",
    "DATACITE_ENABLED",
    "STATS_REGISTER_INDEX_TEMPLATES",
    "STATS_CACHE_REDIS_DB",
    "STATS_AGG_REGISTRY_REDIS_DB",
    "STATS_CACHE_PREFIX",
    "STATS_AGG_REGISTRY_PREFIX",
)
"""Test-config keys the subprocess must share with the test app."""


def write_instance_config(instance_path: Path, app_config: dict, **overrides) -> Path:
    """Write ``invenio.cfg`` with the shared keys plus ``overrides``; return its path."""
    values = {k: app_config[k] for k in FORWARDED_CONFIG if k in app_config}
    values.update(overrides)
    instance_path.mkdir(parents=True, exist_ok=True)
    path = instance_path / "invenio.cfg"
    path.write_text("".join(_config_line(key, value) for key, value in values.items()))
    return path


def _config_line(key: str, value) -> str:
    """One ``invenio.cfg`` line; functions are imported (tests/ is on the path)."""
    if callable(value) and hasattr(value, "__module__"):
        return f"from {value.__module__} import {value.__name__} as {key}\n"
    return f"{key} = {value!r}\n"


def command_env(instance_path: Path) -> dict[str, str]:
    """Environment of a subprocess app: this instance path, ``tests/`` importable."""
    tests_dir = str(Path(__file__).resolve().parents[1])
    python_path = os.pathsep.join(
        filter(None, [tests_dir, os.environ.get("PYTHONPATH")])
    )
    return {
        **os.environ,
        "INVENIO_INSTANCE_PATH": str(instance_path),
        "PYTHONPATH": python_path,
    }


def program_path(program: str) -> str:
    """``invenio`` or ``community-stats`` of this virtualenv (never a PATH lookup)."""
    return str(Path(sys.executable).parent / program)


def run_command(instance_path: Path, program: str, *args: str, timeout: float = 120):
    """Run ``program`` (``invenio`` or ``community-stats``) from this virtualenv."""
    return subprocess.run(
        [program_path(program), *args],
        env=command_env(instance_path),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def start_command(instance_path: Path, program: str, *args: str) -> subprocess.Popen:
    """Start ``program`` like :func:`run_command`, without waiting (for signals)."""
    return subprocess.Popen(
        [program_path(program), *args],
        env=command_env(instance_path),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
