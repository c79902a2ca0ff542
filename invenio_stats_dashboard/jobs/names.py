"""The names of background processes: short form and full form (06 §8.1)."""

FULL_NAME_PREFIX = "invenio-community-stats-"
"""Prefix of every full process name and of the files named after it."""

PROCESS_NAMES = (
    "aggregation",
    "cache-generation",
    "community-event-generation",
    "usage-event-generation",
    "event-migration",
)
"""Short names of the package's background processes."""

DEFAULT_PROCESS_NAME = "event-migration"
"""Name used by ``processes status`` and ``processes cancel`` without an argument."""


def full_name(short: str) -> str:
    """Return ``invenio-community-stats-<short>``."""
    return f"{FULL_NAME_PREFIX}{short}"


def short_name(name: str) -> str:
    """Return the short name for a short or full name; ValueError if unknown."""
    short = name[len(FULL_NAME_PREFIX) :] if name.startswith(FULL_NAME_PREFIX) else name
    if short not in PROCESS_NAMES:
        raise ValueError(
            f"unknown process name {name!r}; use one of {', '.join(PROCESS_NAMES)} "
            f"(or the full form {FULL_NAME_PREFIX}<name>)"
        )
    return short
