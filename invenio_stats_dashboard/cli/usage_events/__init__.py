"""``invenio community-stats usage-events …`` (06 §7, behaviour: 03).

One module per command family: ``migrate`` (migrate, migrate-background),
(clear-bookmarks, cleanup-old-indices, remove-backup-aliases).
"""

import click


@click.group(name="usage-events")
def usage_events() -> None:
    """Enriched view and download events: migration, status, synthetic events."""


from . import migrate  # noqa: E402, F401 - registers migrate, migrate-background
