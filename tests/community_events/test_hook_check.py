"""09 §3 step 10, §9 #7: the upstream component hooks are detected, and their absence
is reported once instead of losing events silently."""

import logging
from contextlib import contextmanager

import pytest
from flask import Flask
from invenio_rdm_records.services.config import RDMRecordCommunitiesConfig
from invenio_requests.services.events.config import RequestEventsServiceConfig

from invenio_stats_dashboard.community_events import hook_check
from invenio_stats_dashboard.ext import InvenioStatsDashboard


def test_installed_upstream_has_both_hooks():
    status = hook_check.check_component_hooks()
    assert status.active is True
    assert status.missing == ()


@contextmanager
def replaced_components(config_class, replacement=None):
    """Swap the class's own ``components`` descriptor (None: remove it) and restore it.

    Done on the class ``__dict__`` directly: reading the descriptor needs an app.
    """
    original = config_class.__dict__["components"]
    if replacement is None:
        delattr(config_class, "components")
    else:
        config_class.components = replacement
    try:
        yield
    finally:
        config_class.components = original


@pytest.fixture()
def without_request_events_hook(monkeypatch):
    """The request-events config as before invenio-requests 7.2.3: no own list.

    It still inherits ``components`` from ``RecordServiceConfig``, which must not
    count as the hook.
    """
    monkeypatch.setattr(hook_check, "_warned", False)
    with replaced_components(RequestEventsServiceConfig):
        assert "components" in vars(RequestEventsServiceConfig.__mro__[1])
        yield


def test_missing_hook_detected_and_named(without_request_events_hook):
    status = hook_check.check_component_hooks()
    assert status.active is False
    assert [hook.config_key for hook in status.missing] == [
        "REQUESTS_EVENTS_SERVICE_COMPONENTS"
    ]
    assert "invenio-requests" in status.reason
    assert ">= 7.2.3" in status.reason
    assert "apply_patches.sh" in status.reason


def test_missing_hook_warns_once_per_process(without_request_events_hook, caplog):
    with caplog.at_level(logging.WARNING, logger="invenio_stats_dashboard"):
        first, second = Flask("a"), Flask("b")
        InvenioStatsDashboard(first)
        InvenioStatsDashboard(second)
    warnings = [
        r for r in caplog.records if "membership tracking inactive" in r.getMessage()
    ]
    assert len(warnings) == 1
    assert first.extensions["invenio-stats-dashboard"].hook_status.active is False


def test_other_config_key_is_not_the_hook():
    from invenio_records_resources.services.base.config import FromConfig

    with replaced_components(RDMRecordCommunitiesConfig, FromConfig("SOMETHING_ELSE")):
        status = hook_check.check_component_hooks()
    assert [h.config_key for h in status.missing] == [
        "RDM_RECORD_COMMUNITIES_SERVICE_COMPONENTS"
    ]
