"""Put the extension's index templates, bookmark indices and community mapping.

One idempotent "ensure" (09 §4) used at app finalize (bounded, never raising), lazily
before the first write of each writer, and before CLI commands or tasks that write.
Only public APIs are used: the template files are read here, the
``__SEARCH_INDEX_PREFIX__`` placeholder is replaced here, and the client's
``put_index_template`` / ``put_mapping`` / ``indices.create`` do the rest.
"""

import json
import logging
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from invenio_search.utils import build_alias_name

logger = logging.getLogger(__name__)

PREFIX_PLACEHOLDER = "__SEARCH_INDEX_PREFIX__"
TEMPLATES_PACKAGE = "invenio_stats_dashboard.search_indices.search_templates"


@dataclass(frozen=True)
class TemplateFile:
    """One shipped composable index template."""

    package: str
    stem: str

    @property
    def module(self) -> str:
        """Import path of the template package (what ``templates`` config names)."""
        return f"{TEMPLATES_PACKAGE}.{self.package}"


REGISTERED_TEMPLATES = (
    TemplateFile("record_view", "record-view-v2.0.0"),
    TemplateFile("file_download", "file-download-v2.0.0"),
    TemplateFile("stats_community_events", "stats-community-events-v1.0.0"),
    TemplateFile(
        "stats_community_records_delta_added",
        "stats-community-records-delta-added-v1.0.0",
    ),
    TemplateFile(
        "stats_community_records_snapshot_added",
        "stats-community-records-snapshot-added-v1.0.0",
    ),
    TemplateFile("stats_community_usage_delta", "stats-community-usage-delta-v1.0.0"),
    TemplateFile(
        "stats_community_usage_snapshot", "stats-community-usage-snapshot-v1.0.0"
    ),
)
"""Templates the extension keeps in the cluster (01 §2.1 rows 1–7)."""

BOOKMARK_INDICES = ("stats-bookmarks-community", "stats-bookmarks-reindexing")
"""Single bookmark indices with an explicit mapping (01 §5.8)."""

DASHBOARD_ENABLED_MAPPING = {
    "properties": {
        "custom_fields": {
            "properties": {"stats:dashboard_enabled": {"type": "boolean"}}
        }
    }
}
"""Communities-index mapping that keeps community saves working (01 §8)."""


@cache
def _template_text(template: TemplateFile) -> str:
    path = resources.files(template.module).joinpath("os-v2", f"{template.stem}.json")
    return path.read_text(encoding="utf-8")


def template_body(template: TemplateFile, prefix: str) -> dict[str, Any]:
    """Return the template body with the instance prefix in place."""
    return json.loads(_template_text(template).replace(PREFIX_PLACEHOLDER, prefix))


@cache
def bookmark_index_body(name: str) -> dict[str, Any]:
    """Return the index-creation body of one bookmark index."""
    path = resources.files("invenio_stats_dashboard.search_indices").joinpath(
        "bookmark_mappings", f"{name}.json"
    )
    return json.loads(path.read_text(encoding="utf-8"))


def _installed_versions(client, prefix: str, **request) -> dict[str, Any]:
    """Return ``{name: version}`` of the composable templates under ``prefix``."""
    found = client.indices.get_index_template(name=f"{prefix}*", ignore=404, **request)
    return {
        item["name"]: item["index_template"].get("version")
        for item in found.get("index_templates", [])
    }


def ensure_templates(client, prefix: str, **request) -> list[str]:
    """Put every registered template whose installed version differs; return names put."""
    wanted = {f"{prefix}{t.stem}": t for t in REGISTERED_TEMPLATES}
    installed = _installed_versions(client, prefix, **request)
    put = []
    for name, template in wanted.items():
        body = template_body(template, prefix)
        if name in installed and installed[name] == body.get("version"):
            continue
        client.indices.put_index_template(name=name, body=body, **request)
        put.append(name)
    return put


def ensure_bookmark_indices(client, prefix: str, **request) -> list[str]:
    """Create the bookmark indices that do not exist yet; return names created."""
    created = []
    for name in BOOKMARK_INDICES:
        index = f"{prefix}{name}"
        if client.indices.exists(index=index, **request):
            continue
        client.indices.create(
            index=index,
            body=bookmark_index_body(name),
            ignore=400,  # created meanwhile by another process
            **request,
        )
        created.append(index)
    return created


def ensure_dashboard_enabled_mapping(client, **request) -> bool:
    """Map ``custom_fields.stats:dashboard_enabled`` on the communities index.

    Returns False when the communities index does not exist yet (``invenio index init``
    has not run); the mapping then comes with the next ensure.
    """
    from invenio_communities.proxies import current_communities

    alias = build_alias_name(current_communities.service.config.record_cls.index._name)
    if not client.indices.exists(index=alias, **request):
        return False
    client.indices.put_mapping(index=alias, body=DASHBOARD_ENABLED_MAPPING, **request)
    return True


def ensure_search_setup(client, prefix: str, **request) -> dict[str, Any]:
    """Run every ensure step; return what each one did."""
    return {
        "templates": ensure_templates(client, prefix, **request),
        "bookmark_indices": ensure_bookmark_indices(client, prefix, **request),
        "dashboard_enabled_mapping": ensure_dashboard_enabled_mapping(
            client, **request
        ),
    }
