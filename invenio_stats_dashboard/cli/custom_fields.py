"""Companion ``invenio custom-fields communities`` commands of the setup guide (06 §9).

The guide spells ``invenio custom-fields communities init|exists <field>``, which
upstream does not offer; these commands use invenio-communities' own building blocks
with exit codes a script can trust.
"""

import click
from flask import current_app
from flask.cli import with_appcontext

from ..custom_fields import DASHBOARD_ENABLED_FIELD, DASHBOARD_LAYOUT_FIELD
from .output import fail

STATS_FIELDS = (DASHBOARD_ENABLED_FIELD, DASHBOARD_LAYOUT_FIELD)


def _communities_index():
    """Return the prefixed communities index alias as a DSL index."""
    from invenio_communities.proxies import current_communities
    from invenio_search.engine import dsl
    from invenio_search.proxies import current_search_client
    from invenio_search.utils import build_alias_name

    name = current_communities.service.config.record_cls.index._name
    return dsl.Index(build_alias_name(name), using=current_search_client)


def _mapped_custom_fields(index) -> set[str]:
    """Names under ``custom_fields`` in the index mapping (one request).

    Unlike upstream's ``Mapping.field_exists`` this copes with a ``custom_fields``
    object that has no properties yet.
    """
    mapping = next(iter(index.get_mapping().values()))["mappings"]
    custom = mapping.get("properties", {}).get("custom_fields", {})
    return set(custom.get("properties", {}))


def _expand_stats_fields(names: tuple[str, ...]) -> list[str]:
    """Naming either ``stats:`` field initialises both (setup-guide notes #3)."""
    expanded = list(dict.fromkeys(names))
    if any(name in STATS_FIELDS for name in expanded):
        expanded += [name for name in STATS_FIELDS if name not in expanded]
    return expanded


@click.group(name="custom-fields")
def custom_fields() -> None:
    """Custom-field commands of the statistics dashboard setup."""


@custom_fields.group(name="communities")
def communities() -> None:
    """Community custom fields."""


@communities.command("init")
@click.argument("field_names", nargs=-1)
@click.option(
    "-f", "--field-name", "option_names", multiple=True, help="A field to create."
)
@with_appcontext
def init(field_names: tuple[str, ...], option_names: tuple[str, ...]) -> None:
    """Put the search mapping of community custom fields (all when none is named)."""
    from invenio_records_resources.services.custom_fields.errors import (
        CustomFieldsException,
    )
    from invenio_records_resources.services.custom_fields.mappings import Mapping
    from invenio_records_resources.services.custom_fields.validate import (
        validate_custom_fields,
    )
    from invenio_search.engine import search

    available = current_app.config.get("COMMUNITIES_CUSTOM_FIELDS") or []
    names = _expand_stats_fields(field_names + option_names)
    try:
        validate_custom_fields(
            given_fields=names,
            available_fields=available,
            namespaces=set(current_app.config.get("COMMUNITIES_NAMESPACES") or {}),
        )
    except CustomFieldsException as error:
        raise click.UsageError(f"invalid custom fields: {error.description}") from None
    names = names or [field.name for field in available]
    index = _communities_index()
    try:
        present = _mapped_custom_fields(index) & set(names)
        properties = Mapping.properties_for_fields(names, available)
        index.put_mapping(body={"properties": properties})
    except search.TransportError as error:
        fail(f"failed: communities index mapping: {error}")
    for name in names:
        state = "already present" if name in present else "created"
        click.echo(f"{name}: {state}")


@communities.command("exists")
@click.argument("field_name", required=False)
@click.option("-f", "--field-name", "option_name", help="The field to check.")
@with_appcontext
def exists(field_name: str | None, option_name: str | None) -> None:
    """Tell whether a field is in the communities index mapping (exit 1 if not)."""
    name = field_name or option_name
    if not name:
        raise click.UsageError("give the FIELD_NAME to check")
    if name in _mapped_custom_fields(_communities_index()):
        click.echo(f"Field {name} exists")
        return
    click.echo(f"Field {name} does not exist")
    raise click.exceptions.Exit(1)
