"""``invenio community-stats usage-events …`` (06 §7, behaviour: 03).

One module per command family: ``migrate`` (migrate, migrate-background),
``generate`` (generate, generate-background), ``status`` and ``maintenance``
(clear-bookmarks, cleanup-old-indices, remove-backup-aliases).
"""

import click


@click.group(name="usage-events")
def usage_events() -> None:
    """Enriched view and download events: migration, status, synthetic events."""


from . import migrate  # noqa: E402, F401 - registers migrate, migrate-background
from .generate import generate, generate_background  # noqa: E402

usage_events.add_command(generate)
usage_events.add_command(generate_background)
from . import maintenance, status  # noqa: E402, F401 - register their commands
