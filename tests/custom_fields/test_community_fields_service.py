"""The ``stats:`` community custom fields through the real communities service (01 §8)."""

import pytest
from helpers.communities import make_community, refresh_communities_index
from helpers.users import make_user
from invenio_access.permissions import system_identity
from invenio_communities.proxies import current_communities
from invenio_records_resources.services.custom_fields.mappings import Mapping
from invenio_search.engine import dsl
from invenio_search.proxies import current_search_client
from invenio_search.utils import build_alias_name
from marshmallow import ValidationError


def _put_layout_mapping_only(app):
    """What ``invenio communities custom-fields init -f stats:dashboard_layout`` does."""
    fields = app.config["COMMUNITIES_CUSTOM_FIELDS"]
    properties = Mapping.properties_for_fields(["stats:dashboard_layout"], fields)
    alias = build_alias_name(current_communities.service.config.record_cls.index._name)
    dsl.Index(alias, using=current_search_client).put_mapping(
        body={"properties": properties}
    )


@pytest.fixture()
def owner(running_app, db):
    return make_user("owner@example.org")


def test_enabled_flag_saves_after_only_layout_init(
    app, running_app, search_clear, owner, stats_dashboard
):
    """01-T11, 09 §9 #22: the ensure maps the boolean, so saves and searches work."""
    _put_layout_mapping_only(app)
    stats_dashboard.ensure_search_setup(force=True)  # what finalize does
    community = make_community(
        owner, "opted-in", custom_fields={"stats:dashboard_enabled": True}
    )
    make_community(owner, "not-opted-in")
    refresh_communities_index()
    found = current_communities.service.search(
        system_identity, q="custom_fields.stats\\:dashboard_enabled:true"
    )
    assert [hit["id"] for hit in found.hits] == [community.id]


def test_invalid_layout_rejected_with_path(app, running_app, search_clear, owner):
    """01-T10: the communities service rejects a layout naming the offending path."""
    layout = {
        "community_layout": {
            "tabs": [
                {
                    "name": "t",
                    "label": "T",
                    "rows": [
                        {
                            "name": "r",
                            "components": [
                                {"component": "SingleStatViews", "width": 17}
                            ],
                        }
                    ],
                }
            ]
        }
    }
    with pytest.raises(ValidationError) as error:
        make_community(
            owner, "bad-layout", custom_fields={"stats:dashboard_layout": layout}
        )
    assert "community_layout.tabs[0].rows[0].components[0].width" in str(
        error.value.messages
    )


def test_about_page_shows_dashboard_flag(
    app, running_app, stats_templates, owner, client
):
    """The about page includes the field's display template (no TemplateNotFound)."""
    community = make_community(
        owner,
        "about-flag",
        custom_fields={"stats:dashboard_enabled": True},
    )
    response = client.get(f"/communities/{community.data['slug']}/about")
    assert response.status_code == 200
    assert "Statistics dashboard enabled" in response.get_data(as_text=True)
