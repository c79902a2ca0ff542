"""Tests of the `stats` community custom fields and the config merge (01 §8)."""

import copy

import pytest
from flask import Flask
from invenio_communities import config as communities_config
from invenio_records_resources.services.custom_fields import (
    BooleanCF,
    CustomFieldsSchema,
    KeywordCF,
)
from invenio_records_resources.services.custom_fields.mappings import Mapping
from invenio_records_resources.services.custom_fields.validate import (
    validate_custom_fields,
)
from marshmallow import ValidationError

from invenio_stats_dashboard.custom_fields import (
    DASHBOARD_ENABLED_FIELD,
    DASHBOARD_LAYOUT_FIELD,
    DashboardLayoutCF,
    is_dashboard_enabled,
    merge_custom_fields_config,
    stats_custom_fields,
    stats_custom_fields_ui,
)

VALID_LAYOUT = {
    "community_layout": {
        "tabs": [
            {
                "name": "traffic",
                "label": "Traffic",
                "rows": [
                    {
                        "name": "map",
                        "components": [
                            {
                                "component": "StatsMap",
                                "width": 16,
                                "props": {"zoom": 1.3},
                            }
                        ],
                    },
                    {
                        "name": "tables",
                        "components": [{"component": "SingleStatViews", "width": 8}],
                    },
                ],
            }
        ]
    }
}
BAD_WIDTH_PATH = "community_layout.tabs[0].rows[1].components[0].width"


def bad_layout():
    layout = copy.deepcopy(VALID_LAYOUT)
    layout["community_layout"]["tabs"][0]["rows"][1]["components"][0]["width"] = 17
    return layout


def names(fields):
    return [f.name for f in fields]


def ui_targets(sections):
    return [f["field"] for section in sections for f in section["fields"]]


# ------------------------------------------------------------------ field classes


def test_stats_custom_fields():
    enabled, layout = stats_custom_fields()
    assert DASHBOARD_ENABLED_FIELD == "stats:dashboard_enabled"
    assert DASHBOARD_LAYOUT_FIELD == "stats:dashboard_layout"
    assert type(enabled) is BooleanCF and enabled.name == DASHBOARD_ENABLED_FIELD
    assert enabled.mapping == {"type": "boolean"}
    assert (
        isinstance(layout, DashboardLayoutCF) and layout.name == DASHBOARD_LAYOUT_FIELD
    )
    # new instances each call
    assert stats_custom_fields()[1] is not layout


def test_layout_cf_mapping():
    cf = DashboardLayoutCF(DASHBOARD_LAYOUT_FIELD)
    assert cf.mapping == {"type": "object", "enabled": False}
    properties = Mapping.properties_for_fields([DASHBOARD_LAYOUT_FIELD], [cf])
    assert properties == {
        "custom_fields.stats:dashboard_layout": {"type": "object", "enabled": False}
    }


def test_layout_cf_loads_a_valid_value():
    cf = DashboardLayoutCF(DASHBOARD_LAYOUT_FIELD)
    assert cf.field.deserialize(copy.deepcopy(VALID_LAYOUT)) == VALID_LAYOUT
    assert cf.ui_field.deserialize(copy.deepcopy(VALID_LAYOUT)) == VALID_LAYOUT
    assert cf.field.serialize("v", {"v": VALID_LAYOUT}) == VALID_LAYOUT


def test_layout_cf_rejects_an_invalid_value_naming_the_path():
    cf = DashboardLayoutCF(DASHBOARD_LAYOUT_FIELD)
    with pytest.raises(ValidationError) as excinfo:
        cf.field.deserialize(bad_layout())
    assert excinfo.value.messages[0] == f"{BAD_WIDTH_PATH}: must be 1-16, got 17"


@pytest.mark.parametrize("value", [{}, {"community_layout": {"tabs": []}}, "x", []])
def test_layout_cf_rejects_other_invalid_values(value):
    with pytest.raises(ValidationError):
        DashboardLayoutCF(DASHBOARD_LAYOUT_FIELD).field.deserialize(value)


def test_layout_cf_rejects_null_and_honours_field_args():
    with pytest.raises(ValidationError):
        DashboardLayoutCF(DASHBOARD_LAYOUT_FIELD).field.deserialize(None)
    cf = DashboardLayoutCF(DASHBOARD_LAYOUT_FIELD, field_args={"allow_none": True})
    assert cf.field.deserialize(None) is None


def test_layout_cf_known_components():
    layout = copy.deepcopy(VALID_LAYOUT)
    layout["community_layout"]["tabs"][0]["rows"][1]["components"][0]["component"] = "X"
    with pytest.raises(ValidationError):
        DashboardLayoutCF(DASHBOARD_LAYOUT_FIELD).field.deserialize(layout)
    cf = DashboardLayoutCF(DASHBOARD_LAYOUT_FIELD, known_components={"X", "StatsMap"})
    assert cf.field.deserialize(layout) == layout


def test_communities_custom_fields_schema_error():
    """Through the schema the communities service uses, the error names the path."""
    app = Flask("test")
    app.config.update(merge_custom_fields_config({}))
    with app.app_context():
        schema = CustomFieldsSchema(fields_var="COMMUNITIES_CUSTOM_FIELDS")
        data = {DASHBOARD_ENABLED_FIELD: True, DASHBOARD_LAYOUT_FIELD: VALID_LAYOUT}
        assert schema.load(data) == data
        with pytest.raises(ValidationError) as excinfo:
            schema.load({DASHBOARD_LAYOUT_FIELD: bad_layout()})
    messages = excinfo.value.messages[DASHBOARD_LAYOUT_FIELD]
    assert messages[0].startswith(f"{BAD_WIDTH_PATH}:")


def test_merged_fields_pass_upstream_namespace_validation():
    merged = merge_custom_fields_config({})
    validate_custom_fields(
        merged["COMMUNITIES_CUSTOM_FIELDS"],
        namespaces=merged["COMMUNITIES_NAMESPACES"],
    )


# ------------------------------------------------------------------------ UI section


def test_ui_section_shape_and_texts():
    config = {
        "STATS_DASHBOARD_SETTINGS_COMMUNITY_ENABLED_ICON": "chart bar",
        "STATS_DASHBOARD_SETTINGS_COMMUNITY_ENABLED_LABEL": "Dashboard",
        "STATS_DASHBOARD_SETTINGS_COMMUNITY_ENABLED_DESCRIPTION": "Shows a tab.",
        "STATS_DASHBOARD_SETTINGS_COMMUNITY_ENABLED_HELPTEXT": "Takes hours.",
    }
    section = stats_custom_fields_ui(config)
    assert str(section["section"]) == "Stats Dashboard Settings"
    (field,) = section["fields"]
    assert field["field"] == "stats:dashboard_enabled"
    assert field["ui_widget"] == "DashboardEnabledField"
    assert field["template"] == "dashboard_enabled.html"
    props = {key: str(value) for key, value in field["props"].items()}
    assert props == {
        "icon": "chart bar",
        "label": "Dashboard",
        "description": "Shows a tab.",
        "helpText": "Takes hours.",
        "trueLabel": "Enable",
        "falseLabel": "Disable",
    }


def test_ui_section_defaults_without_config():
    props = stats_custom_fields_ui({})["fields"][0]["props"]
    assert props["icon"] == "chart line"
    assert str(props["label"]) == "Enable Dashboard"
    assert "Statistics" in str(props["description"])
    assert str(props["helpText"]).startswith("The first statistics")


# --------------------------------------------------------------------------- merge


def test_merge_on_empty_config():
    merged = merge_custom_fields_config({})
    assert merged["COMMUNITIES_NAMESPACES"] == {"stats": None}
    assert names(merged["COMMUNITIES_CUSTOM_FIELDS"]) == [
        "stats:dashboard_enabled",
        "stats:dashboard_layout",
    ]
    assert ui_targets(merged["COMMUNITIES_CUSTOM_FIELDS_UI"]) == [
        DASHBOARD_ENABLED_FIELD
    ]


def test_merge_prepends_and_keeps_instance_entries():
    journal = KeywordCF("journal:title")
    other_section = {"section": "Other", "fields": [{"field": "journal:title"}]}
    config = {
        "COMMUNITIES_NAMESPACES": {"journal": "https://example.org/"},
        "COMMUNITIES_CUSTOM_FIELDS": [journal],
        "COMMUNITIES_CUSTOM_FIELDS_UI": [other_section],
        "STATS_DASHBOARD_COMMUNITY_OPT_IN": True,
    }
    merged = merge_custom_fields_config(config)
    assert merged["COMMUNITIES_NAMESPACES"] == {
        "journal": "https://example.org/",
        "stats": None,
    }
    fields = merged["COMMUNITIES_CUSTOM_FIELDS"]
    assert names(fields) == [
        DASHBOARD_ENABLED_FIELD,
        DASHBOARD_LAYOUT_FIELD,
        "journal:title",
    ]
    assert fields[2] is journal
    sections = merged["COMMUNITIES_CUSTOM_FIELDS_UI"]
    assert ui_targets(sections) == [DASHBOARD_ENABLED_FIELD, "journal:title"]
    assert sections[1] is other_section


def test_merge_keeps_an_instance_namespace_value():
    config = {"COMMUNITIES_NAMESPACES": {"stats": "https://example.org/stats/"}}
    merged = merge_custom_fields_config(config)
    assert merged["COMMUNITIES_NAMESPACES"] == {"stats": "https://example.org/stats/"}


def test_merge_partial_instance_definition_gets_the_other_field():
    """09 §9 #8: an instance defining only the boolean still gets the layout field."""
    instance_enabled = BooleanCF(DASHBOARD_ENABLED_FIELD, field_args={"required": True})
    config = {"COMMUNITIES_CUSTOM_FIELDS": [instance_enabled]}
    fields = merge_custom_fields_config(config)["COMMUNITIES_CUSTOM_FIELDS"]
    assert names(fields) == [DASHBOARD_LAYOUT_FIELD, DASHBOARD_ENABLED_FIELD]
    assert fields[1] is instance_enabled
    assert isinstance(fields[0], DashboardLayoutCF)


def test_merge_instance_layout_definition_wins(caplog):
    instance_layout = KeywordCF(DASHBOARD_LAYOUT_FIELD)
    config = {"COMMUNITIES_CUSTOM_FIELDS": [instance_layout]}
    with caplog.at_level("INFO"):
        fields = merge_custom_fields_config(config)["COMMUNITIES_CUSTOM_FIELDS"]
    assert names(fields) == [DASHBOARD_ENABLED_FIELD, DASHBOARD_LAYOUT_FIELD]
    assert fields[1] is instance_layout
    assert [r for r in caplog.records if DASHBOARD_LAYOUT_FIELD in r.getMessage()]


@pytest.mark.parametrize("opt_in", [False, "false", "off", 0])
def test_merge_opt_in_false_adds_no_ui_section(opt_in):
    merged = merge_custom_fields_config({"STATS_DASHBOARD_COMMUNITY_OPT_IN": opt_in})
    assert merged["COMMUNITIES_CUSTOM_FIELDS_UI"] == []
    # the fields and namespace are registered all the same
    assert names(merged["COMMUNITIES_CUSTOM_FIELDS"]) == [
        DASHBOARD_ENABLED_FIELD,
        DASHBOARD_LAYOUT_FIELD,
    ]
    assert "stats" in merged["COMMUNITIES_NAMESPACES"]


@pytest.mark.parametrize("opt_in", [True, "True", "yes", "1"])
def test_merge_opt_in_true_adds_the_section_once_when_applied_twice(opt_in):
    config = {"STATS_DASHBOARD_COMMUNITY_OPT_IN": opt_in}
    config.update(merge_custom_fields_config(config))
    first = {
        key: list(value) for key, value in config.items() if key.startswith("COMM")
    }
    config.update(merge_custom_fields_config(config))
    sections = config["COMMUNITIES_CUSTOM_FIELDS_UI"]
    assert ui_targets(sections) == [DASHBOARD_ENABLED_FIELD]
    assert names(config["COMMUNITIES_CUSTOM_FIELDS"]) == [
        DASHBOARD_ENABLED_FIELD,
        DASHBOARD_LAYOUT_FIELD,
    ]
    assert config["COMMUNITIES_CUSTOM_FIELDS"] == first["COMMUNITIES_CUSTOM_FIELDS"]
    assert sections == first["COMMUNITIES_CUSTOM_FIELDS_UI"]


def test_merge_skips_section_when_an_entry_targets_the_field():
    own = {"section": "Mine", "fields": [{"field": DASHBOARD_ENABLED_FIELD}]}
    config = {"COMMUNITIES_CUSTOM_FIELDS_UI": [own]}
    assert merge_custom_fields_config(config)["COMMUNITIES_CUSTOM_FIELDS_UI"] == [own]


def test_merge_does_not_mutate_its_inputs():
    namespaces = {"journal": None}
    fields = [KeywordCF("journal:title")]
    sections = [{"section": "Other", "fields": [{"field": "journal:title"}]}]
    config = {
        "COMMUNITIES_NAMESPACES": namespaces,
        "COMMUNITIES_CUSTOM_FIELDS": fields,
        "COMMUNITIES_CUSTOM_FIELDS_UI": sections,
    }
    before = copy.deepcopy(config)
    merged = merge_custom_fields_config(config)
    assert config["COMMUNITIES_NAMESPACES"] is namespaces
    assert namespaces == before["COMMUNITIES_NAMESPACES"]
    assert names(fields) == names(before["COMMUNITIES_CUSTOM_FIELDS"])
    assert sections == before["COMMUNITIES_CUSTOM_FIELDS_UI"]
    assert set(config) == set(before)
    assert merged["COMMUNITIES_NAMESPACES"] is not namespaces
    assert merged["COMMUNITIES_CUSTOM_FIELDS"] is not fields
    assert merged["COMMUNITIES_CUSTOM_FIELDS_UI"] is not sections


def test_merge_leaves_upstream_module_defaults_clean():
    config = {
        "COMMUNITIES_NAMESPACES": communities_config.COMMUNITIES_NAMESPACES,
        "COMMUNITIES_CUSTOM_FIELDS": communities_config.COMMUNITIES_CUSTOM_FIELDS,
        "COMMUNITIES_CUSTOM_FIELDS_UI": communities_config.COMMUNITIES_CUSTOM_FIELDS_UI,
    }
    merge_custom_fields_config(config)
    assert communities_config.COMMUNITIES_NAMESPACES == {}
    assert communities_config.COMMUNITIES_CUSTOM_FIELDS == []
    assert communities_config.COMMUNITIES_CUSTOM_FIELDS_UI == []


# --------------------------------------------------------------- effective state


@pytest.mark.parametrize(
    "custom_fields,opt_in,expected",
    [
        ({"stats:dashboard_enabled": True}, True, True),
        ({"stats:dashboard_enabled": False}, True, False),
        ({}, True, False),
        (None, True, False),
        ({"stats:dashboard_enabled": "true"}, True, False),
        ({"stats:dashboard_enabled": 1}, True, False),
        ({"stats:dashboard_enabled": True}, False, True),
        ({"stats:dashboard_enabled": False}, False, True),
        ({}, False, True),
        (None, False, True),
    ],
)
def test_is_dashboard_enabled(custom_fields, opt_in, expected):
    assert is_dashboard_enabled(custom_fields, opt_in) is expected
