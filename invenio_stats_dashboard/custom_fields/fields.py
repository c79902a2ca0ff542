"""The ``stats`` community custom fields and their configuration (chapter 01 §8).

Two fields live in the ``stats`` namespace:

- ``stats:dashboard_enabled``: a boolean, shown in the community settings form as the
  "Stats Dashboard Settings" section when ``STATS_DASHBOARD_COMMUNITY_OPT_IN`` is on;
- ``stats:dashboard_layout``: a dashboard layout object, stored but not indexed, set
  through the communities API and validated with :mod:`.layout_schema`.

:func:`merge_custom_fields_config` computes the new values of the three
``COMMUNITIES_*`` configuration variables without touching the ones it is given.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from invenio_i18n import lazy_gettext as _
from invenio_records_resources.services.custom_fields import BaseCF, BooleanCF
from marshmallow import ValidationError, fields

from .layout_schema import validate_layout

logger = logging.getLogger(__name__)

STATS_NAMESPACE = "stats"
DASHBOARD_ENABLED_FIELD = "stats:dashboard_enabled"
DASHBOARD_LAYOUT_FIELD = "stats:dashboard_layout"

_SETTINGS_PREFIX = "STATS_DASHBOARD_SETTINGS_COMMUNITY_ENABLED_"
_SETTINGS_DEFAULTS = {
    # prop -> default of STATS_DASHBOARD_SETTINGS_COMMUNITY_ENABLED_<PROP> (07 §2.4)
    "icon": "chart line",
    "label": _("Enable Dashboard"),
    "description": _(
        "Show the 'Statistics' tab with this community's statistics dashboard."
    ),
    "helpText": _(
        "The first statistics can take several hours to appear after enabling."
    ),
}
_TRUE_STRINGS = {"true", "1", "yes", "on"}


class DashboardLayoutField(fields.Raw):
    """Marshmallow field holding a dashboard layout object.

    Loading validates the value with :func:`.layout_schema.validate_layout`. On
    failure it raises a :class:`~marshmallow.ValidationError` whose messages are the
    problems found, the first naming the path of the first offending key.
    """

    def __init__(self, known_components: Iterable[str] | None = None, **kwargs):
        """Create the field.

        :param known_components: component names to accept; ``None`` means the
            built-in names plus the ``invenio_stats_dashboard.components`` entry points.
        """
        super().__init__(**kwargs)
        self.known_components = (
            None if known_components is None else frozenset(known_components)
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs) -> Any:
        errors = validate_layout(value, self.known_components)
        if errors:
            raise ValidationError(errors)
        return value


class DashboardLayoutCF(BaseCF):
    """Custom field for ``stats:dashboard_layout``: stored, not indexed."""

    def __init__(
        self,
        name: str,
        known_components: Iterable[str] | None = None,
        **kwargs: Any,
    ):
        """Create the custom field.

        :param name: the field name, normally ``stats:dashboard_layout``.
        :param known_components: see :class:`DashboardLayoutField`.
        :param kwargs: passed to :class:`BaseCF` (``field_args``).
        """
        super().__init__(name, **kwargs)
        self._known_components = known_components

    @property
    def mapping(self) -> dict:
        """Search mapping: an object that is kept in ``_source`` but not indexed."""
        return {"type": "object", "enabled": False}

    @property
    def field(self) -> DashboardLayoutField:
        """Marshmallow field validating the layout."""
        return DashboardLayoutField(
            known_components=self._known_components, **self._field_args
        )


def stats_custom_fields() -> list[BaseCF]:
    """Return new instances of the two ``stats`` community custom fields."""
    return [
        BooleanCF(DASHBOARD_ENABLED_FIELD),
        DashboardLayoutCF(DASHBOARD_LAYOUT_FIELD),
    ]


def stats_custom_fields_ui(config: Mapping[str, Any]) -> dict:
    """Return the "Stats Dashboard Settings" entry of ``COMMUNITIES_CUSTOM_FIELDS_UI``.

    The toggle texts and icon come from the
    ``STATS_DASHBOARD_SETTINGS_COMMUNITY_ENABLED_{ICON,LABEL,DESCRIPTION,HELPTEXT}``
    variables of ``config``; the defaults of chapter 07 §2.4 apply when one is absent.
    """
    props = {
        prop: config.get(f"{_SETTINGS_PREFIX}{prop.upper()}", default)
        for prop, default in _SETTINGS_DEFAULTS.items()
    }
    props.update(trueLabel=_("Enable"), falseLabel=_("Disable"))
    return {
        "section": _("Stats Dashboard Settings"),
        "fields": [
            {
                "field": DASHBOARD_ENABLED_FIELD,
                "ui_widget": "DashboardEnabledField",
                "template": "dashboard_enabled.html",
                "props": props,
            }
        ],
    }


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_STRINGS
    return bool(value)


def _targets(ui_sections: Iterable[Any], field_name: str) -> bool:
    """Whether any entry of a ``*_CUSTOM_FIELDS_UI`` list targets ``field_name``."""
    return any(
        isinstance(entry, Mapping) and entry.get("field") == field_name
        for section in ui_sections
        if isinstance(section, Mapping)
        for entry in section.get("fields") or ()
    )


def _same_definition(a: Any, b: Any) -> bool:
    return type(a) is type(b) and vars(a) == vars(b)


def merge_custom_fields_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Return the new ``COMMUNITIES_*`` custom-field settings for ``config``.

    Pure: the values in ``config`` are never mutated; new dicts and lists are
    returned for ``COMMUNITIES_NAMESPACES``, ``COMMUNITIES_CUSTOM_FIELDS`` and
    ``COMMUNITIES_CUSTOM_FIELDS_UI``, ready for ``app.config.update(...)``.
    Applying the result and merging again gives the same values.

    - The ``stats`` namespace is added (value ``None``) unless already set.
    - Each ``stats`` field is prepended unless a field of the same name is already
      configured: an instance definition wins, field by field.
    - The settings section is prepended only when
      ``STATS_DASHBOARD_COMMUNITY_OPT_IN`` is true (default) and no UI entry already
      targets ``stats:dashboard_enabled``.
    """
    namespaces = dict(config.get("COMMUNITIES_NAMESPACES") or {})
    namespaces.setdefault(STATS_NAMESPACE, None)

    existing = list(config.get("COMMUNITIES_CUSTOM_FIELDS") or [])
    by_name = {getattr(cf, "name", None): cf for cf in existing}
    added = []
    for ours in stats_custom_fields():
        theirs = by_name.get(ours.name)
        if theirs is None:
            added.append(ours)
        elif not _same_definition(theirs, ours):
            logger.info("Keeping the instance definition of custom field %s", ours.name)

    ui_sections = list(config.get("COMMUNITIES_CUSTOM_FIELDS_UI") or [])
    opt_in = _as_bool(config.get("STATS_DASHBOARD_COMMUNITY_OPT_IN", True))
    if opt_in and not _targets(ui_sections, DASHBOARD_ENABLED_FIELD):
        ui_sections.insert(0, stats_custom_fields_ui(config))

    return {
        "COMMUNITIES_NAMESPACES": namespaces,
        "COMMUNITIES_CUSTOM_FIELDS": added + existing,
        "COMMUNITIES_CUSTOM_FIELDS_UI": ui_sections,
    }


def is_dashboard_enabled(
    community_custom_fields: Mapping[str, Any] | None, opt_in: bool
) -> bool:
    """Return the effective dashboard state of a community (01 §8).

    :param community_custom_fields: the community's ``custom_fields`` (may be None).
    :param opt_in: the value of ``STATS_DASHBOARD_COMMUNITY_OPT_IN``.
    :returns: with opt-in on, True exactly when ``stats:dashboard_enabled`` is
        ``true``; with opt-in off, always True.
    """
    if not opt_in:
        return True
    return (community_custom_fields or {}).get(DASHBOARD_ENABLED_FIELD) is True
