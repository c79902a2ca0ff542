"""The ``invenio community-stats`` command tree (06)."""

import click
from flask import current_app
from flask.cli import ScriptInfo, with_appcontext

from ..proxies import EXTENSION_KEY
from .output import fail

APP_FREE_GROUPS = frozenset({"processes"})
"""Sub-groups that run without the app, so they work while services are down (06 §1)."""


@click.group(name="community-stats")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Statistics dashboards: community events, usage events, aggregation, cache."""
    if ctx.invoked_subcommand in APP_FREE_GROUPS:
        return
    ctx.invoke(_require_enabled)


@with_appcontext
def _require_enabled() -> None:
    """Stop with exit 1 when the master switch is off (07 §1.6)."""
    ext = current_app.extensions.get(EXTENSION_KEY)
    if ext is None or not ext.enabled:
        fail(
            "refused: invenio-stats-dashboard is disabled "
            "(COMMUNITY_STATS_ENABLED is False)"
        )


def main() -> None:
    """Console script: run the tree inside the instance's InvenioRDM UI app (09 §2)."""
    from invenio_app.factory import create_ui

    cli.main(prog_name="community-stats", obj=ScriptInfo(create_app=create_ui))


from .aggregation import aggregate, aggregate_background  # noqa: E402
from .aggregation_maintenance import clear_bookmarks, clear_lock, read  # noqa: E402
from .aggregation_status import status  # noqa: E402
from .community_events import community_events  # noqa: E402 - needs ``cli`` defined

for command in (
    aggregate,
    aggregate_background,
    status,
    read,
    clear_bookmarks,
    clear_lock,
):
    cli.add_command(command)

cli.add_command(community_events)

from .usage_events import usage_events  # noqa: E402

cli.add_command(usage_events)

from .processes import processes  # noqa: E402 - app-free group (APP_FREE_GROUPS)

cli.add_command(processes)
