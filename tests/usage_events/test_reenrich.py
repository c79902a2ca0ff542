"""Re-enrichment of stored events after a usage-subcount change (03 §5, test 14).

Config A is the shipped one (``languages`` on, ``subjects`` off); config B switches
``subjects`` on and ``languages`` off, as an operator would in ``invenio.cfg``.
"""

import copy
import json
from datetime import UTC, datetime

import pytest
from helpers.community_event_log import index_synthetic_versions, uid
from helpers.legacy_events import all_events, index_legacy_events, legacy_event
from invenio_search import current_search_client
from invenio_search.utils import prefix_index

from invenio_stats_dashboard import config as defaults
from invenio_stats_dashboard.cli import cli as stats_cli
from invenio_stats_dashboard.community_events.documents import VersionInfo, build_event
from invenio_stats_dashboard.community_events.marker import write_marker
from invenio_stats_dashboard.community_events.membership import ADDED
from invenio_stats_dashboard.search_indices.bulk import bulk_write
from invenio_stats_dashboard.search_indices.paging import RECORDS_ALIAS
from invenio_stats_dashboard.timeutils import utc_now
from invenio_stats_dashboard.usage_events import indexing_state
from invenio_stats_dashboard.usage_events.fields import enriched_fields, fingerprint
from invenio_stats_dashboard.usage_events.names import read_alias, target_index

MONTHS = ((2024, 2), (2024, 3))


def subjects_of(recid):
    return [
        {"id": f"subj-{recid}", "subject": f"Subject of {recid}", "scheme": "custom"}
    ]


def languages_of(recid):
    return [{"id": "eng", "title": {"en": "English"}}]


def config_b():
    subcounts = copy.deepcopy(defaults.COMMUNITY_STATS_SUBCOUNTS)
    subcounts["subjects"]["usage_events"] = {
        "event_field": "subjects",
        "extraction_path_for_event": "metadata.subjects",
        "snapshot_type": "top",
        "source_fields": [{"field": "subjects.id", "label_field": "subjects.subject"}],
    }
    subcounts["languages"]["usage_events"] = {}
    return subcounts


@pytest.fixture()
def migrated(cli, log, only_new_records, stats_dashboard):
    """Three versions with subjects and languages; two months migrated under A."""
    created = index_synthetic_versions(
        3, [], start=datetime(2024, 1, 2, tzinfo=UTC), prefix=f"re{uid()[:6]}-"
    )
    for recid in created:
        current_search_client.update_by_query(
            index=prefix_index(RECORDS_ALIAS),
            body={
                "query": {"term": {"id": recid}},
                "script": {
                    "source": "ctx._source.metadata.subjects = params.s; "
                    "ctx._source.metadata.languages = params.l; "
                    "ctx._source.access = params.a",
                    "params": {
                        "s": subjects_of(recid),
                        "l": languages_of(recid),
                        "a": {"record": "public", "files": "public", "status": "open"},
                    },
                },
            },
            refresh=True,
        )
    versions = [
        VersionInfo(record_id=r, parent_id=f"{r}-parent", created=c)
        for r, c in created.items()
    ]
    bulk_write(
        current_search_client,
        [build_event(v, "global", ADDED, v.created) for v in versions],
        refresh=True,
    )
    write_marker(current_search_client, utc_now())
    events = []
    for n in range(60):
        year, month = MONTHS[n % 2]
        when = datetime(year, month, 1 + n % 27, n % 24, 0, 1, tzinfo=UTC)
        events.append(legacy_event("view", list(created)[n % 3], when, f"re-{n}"))
    index_legacy_events("view", events)
    result = cli(stats_cli, "usage-events", "migrate", "-e", "view")
    assert result.exit_code == 0, result.output
    return dict(events)


def run(cli, *args):
    result = cli(stats_cli, "usage-events", "migrate", "-e", "view", "--json", *args)
    data = json.loads(result.stdout) if result.stdout.strip().startswith("{") else None
    return result, data


def test_reenrich_after_subcount_change(cli, migrated, set_config, app):
    stored = all_events(read_alias("view"))
    assert set(stored) == set(migrated)
    assert all(s["languages"] == languages_of(s["recid"]) for s in stored.values())
    assert all("subjects" not in s for s in stored.values())
    fingerprint_a = fingerprint(enriched_fields(defaults.COMMUNITY_STATS_SUBCOUNTS))

    set_config(COMMUNITY_STATS_SUBCOUNTS=config_b())
    state = indexing_state.redis_client()
    try:
        indexing_state.record_fingerprint(state, fingerprint_a)
        result, data = run(cli, "--reenrich")
        assert result.exit_code == 1
        assert "workers still run the old subcount configuration" in result.output
        assert all_events(read_alias("view")) == stored
        state.delete(
            indexing_state.state_key(app.config, indexing_state.FINGERPRINTS_KEY)
        )
    finally:
        state.close()

    # Interrupted after one batch per month, then resumed: the alias count holds.
    result, data = run(cli, "--reenrich", "-b", "1", "--batch-size", "7")
    assert result.exit_code == 0, result.output
    assert data["completed"] is False
    assert len(all_events(read_alias("view"))) == len(migrated)
    partly = all_events(read_alias("view"))
    assert sum("subjects" in s for s in partly.values()) == 14
    for _ in range(10):
        result, data = run(cli, "--reenrich", "--batch-size", "7", "-b", "2")
        assert result.exit_code == 0, result.output
        assert len(all_events(read_alias("view"))) == len(migrated)
        if data["completed"]:
            break
    assert data["completed"] is True
    final = all_events(read_alias("view"))
    assert set(final) == set(migrated)
    for event_id, source in final.items():
        assert source["subjects"] == subjects_of(source["recid"]), event_id
        assert "languages" not in source
        for name in ("timestamp", "recid", "visitor_id", "unique_id"):
            assert source[name] == migrated[event_id][name]
    for year, month in MONTHS:
        mapping = current_search_client.indices.get_mapping(
            index=target_index("view", f"{year}-{month:02d}")
        )
        (body,) = mapping.values()
        assert "subjects" in body["mappings"]["properties"]

    again, data = run(cli, "--reenrich")
    assert again.exit_code == 0
    assert all(
        m["processed"] == 0 for m in data["event_types"]["view"]["months"].values()
    )


def test_reenrich_maps_a_new_field_everywhere(cli, migrated, set_config):
    """An extra field with ``event_field_mapping`` is mapped in templates and indices."""
    subcounts = config_b()
    subcounts["languages"]["usage_events"] = {
        "event_field": "language_codes",
        "extraction_path_for_event": "metadata.languages.id",
        "event_field_mapping": {"type": "keyword"},
        "snapshot_type": "top",
        "source_fields": [{"field": "language_codes"}],
    }
    set_config(COMMUNITY_STATS_SUBCOUNTS=subcounts)
    result, data = run(cli, "--reenrich", "--batch-size", "100")
    assert result.exit_code == 0, result.output
    prefix = prefix_index("")
    for stem in ("record-view-v2.0.0", "file-download-v2.0.0"):
        found = current_search_client.indices.get_index_template(name=f"{prefix}{stem}")
        props = found["index_templates"][0]["index_template"]["template"]["mappings"][
            "properties"
        ]
        assert props["language_codes"] == {"type": "keyword"}
    for source in all_events(read_alias("view")).values():
        assert source["language_codes"] == ["eng"]
