"""Community custom fields of the statistics dashboard (chapter 01 §8).

- :mod:`.fields`: the ``stats:dashboard_enabled`` and ``stats:dashboard_layout``
  custom fields, the "Stats Dashboard Settings" UI section, the merge of both into
  the ``COMMUNITIES_*`` configuration, and the effective enabled state.
- :mod:`.layout_schema`: the layout value schema shared by the custom field and the
  ``STATS_DASHBOARD_LAYOUT`` configuration variable.
"""

from .fields import (
    DASHBOARD_ENABLED_FIELD,
    DASHBOARD_LAYOUT_FIELD,
    STATS_NAMESPACE,
    DashboardLayoutCF,
    DashboardLayoutField,
    is_dashboard_enabled,
    merge_custom_fields_config,
    stats_custom_fields,
    stats_custom_fields_ui,
)
from .layout_schema import (
    COMPONENTS_ENTRY_POINT_GROUP,
    LAYOUT_COMPONENT_NAMES,
    known_component_names,
    validate_layout,
)

__all__ = (
    "COMPONENTS_ENTRY_POINT_GROUP",
    "DASHBOARD_ENABLED_FIELD",
    "DASHBOARD_LAYOUT_FIELD",
    "LAYOUT_COMPONENT_NAMES",
    "STATS_NAMESPACE",
    "DashboardLayoutCF",
    "DashboardLayoutField",
    "is_dashboard_enabled",
    "known_component_names",
    "merge_custom_fields_config",
    "stats_custom_fields",
    "stats_custom_fields_ui",
    "validate_layout",
)
