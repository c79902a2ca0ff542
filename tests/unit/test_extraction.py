"""Default extraction of enriched event fields from a record ``_source``.

Spec: 01 §5.1 (mapped sub-fields), 01 §7 (default extraction), 03 §2.
"""

from copy import deepcopy
from types import SimpleNamespace

import pytest

import invenio_stats_dashboard.config as config
from invenio_stats_dashboard.usage_events.extraction import (
    EVENT_FIELD_SHAPES,
    MAPPED_EVENT_FIELDS,
    extract_affiliations,
    extract_file_types,
    extract_funders,
    file_extension,
    get_path,
    project,
    project_event_field,
    resolve_extractor,
)

CERN = {"id": "01ggx4157", "name": "CERN"}
MIT = {"id": "042nb2s44", "name": "Massachusetts Institute of Technology"}

RECORD = {
    "id": "abcd-1234",
    "access": {"record": "public", "files": "public", "status": "open"},
    "metadata": {
        "resource_type": {
            "id": "dataset",
            "@v": "rt-uuid::1",
            "title": {"en": "Dataset", "de": "Datensatz"},
            "props": {"type": "dataset", "subtype": "", "csl": "dataset"},
        },
        "languages": [
            {
                "id": "eng",
                "@v": "l::1",
                "title": {"en": "English"},
                "props": {"alpha_2": "en"},
            },
        ],
        "rights": [
            {
                "id": "cc-by-4.0",
                "title": {"en": "CC BY 4.0"},
                "description": {"en": "Attribution"},
                "props": {
                    "url": "https://cc.org/by/4.0",
                    "scheme": "spdx",
                    "osi_approved": "",
                },
                "icon": "cc-by-icon",
                "link": "https://cc.org/by/4.0",
            },
        ],
        "publisher": "Zenodo",
        "creators": [
            {
                "person_or_org": {"name": "Doe, J"},
                "affiliations": [dict(CERN, extra="dropped"), {"name": "Independent"}],
            },
            {"person_or_org": {"name": "Roe, R"}, "affiliations": [MIT, CERN]},
        ],
        "contributors": [
            {
                "person_or_org": {"name": "Poe, P"},
                "affiliations": [{"name": "Independent"}, CERN, {"id": "", "name": ""}],
            },
        ],
        "funding": [
            {
                "funder": {
                    "id": "00k4n6c32",
                    "name": "European Commission",
                    "identifiers": [
                        {"identifier": "00k4n6c32", "scheme": "ror", "extra": 1}
                    ],
                    "country": "BE",
                },
                "award": {"id": "00k4n6c32::101", "title": {"en": "Project"}},
            },
            {
                "funder": {"id": "00k4n6c32", "name": "European Commission"},
                "award": {"id": "00k4n6c32::102"},
            },
            {"funder": {"name": "Local Foundation"}},
            {"award": {"id": "no-funder"}},
        ],
    },
    "custom_fields": {"journal:journal": {"title": "Journal of Tests", "volume": "3"}},
    "files": {
        "enabled": True,
        "types": ["PDF", "csv", "pdf"],
        "entries": [
            {"key": "paper.PDF", "ext": "pdf", "size": 10, "file_id": "f-1"},
            {"key": "data.csv", "ext": "csv", "size": 20, "file_id": "f-2"},
        ],
    },
}


# --- funders (03 §2: one per funding entry, de-duplicated) -------------------------


def test_funders_are_projected_and_deduplicated():
    assert extract_funders(RECORD) == [
        {
            "id": "00k4n6c32",
            "name": "European Commission",
            "identifiers": [{"identifier": "00k4n6c32", "scheme": "ror"}],
        },
        {"name": "Local Foundation"},
    ]


def test_funders_missing_or_malformed():
    assert extract_funders({}) == []
    assert extract_funders({"metadata": {"funding": None}}) == []
    assert extract_funders({"metadata": {"funding": [{"funder": "EC"}, 3]}}) == []


def test_name_only_funders_are_deduplicated_by_name():
    source = {
        "metadata": {"funding": [{"funder": {"name": "X"}}, {"funder": {"name": "X"}}]}
    }
    assert extract_funders(source) == [{"name": "X"}]


def test_extraction_never_changes_the_record():
    source = deepcopy(RECORD)
    extract_funders(source)
    extract_affiliations(source)
    extract_file_types(source)
    assert source == RECORD


# --- affiliations (creators then contributors, by id else name) ---------------------


def test_affiliations_creators_then_contributors_deduplicated():
    assert extract_affiliations(RECORD) == [CERN, {"name": "Independent"}, MIT]


def test_affiliation_of_creator_and_contributor_counts_once():
    """07 §11 #24: X as creator and contributor -> one value."""
    source = {
        "metadata": {
            "creators": [{"affiliations": [CERN]}],
            "contributors": [{"affiliations": [CERN]}],
        }
    }
    assert extract_affiliations(source) == [CERN]


def test_contributor_affiliations_come_after_creator_affiliations():
    source = {
        "metadata": {
            "contributors": [{"affiliations": [MIT]}],
            "creators": [{"affiliations": [CERN]}],
        }
    }
    assert extract_affiliations(source) == [CERN, MIT]


def test_affiliations_missing():
    assert (
        extract_affiliations({"metadata": {"creators": [{"person_or_org": {}}]}}) == []
    )
    assert extract_affiliations({}) == []


# --- file types (01 §7) ----------------------------------------------------------


def test_view_file_types_prefer_files_types_lowercased_and_unique():
    assert extract_file_types(RECORD) == ["pdf", "csv"]


def test_view_file_types_fall_back_to_entries_list():
    source = {
        "files": {
            "types": [],
            "entries": [
                {"key": "a.TXT", "ext": "TXT"},
                {"key": "b.txt", "ext": "txt"},
                {"key": "photo.jpeg"},
            ],
        }
    }
    assert extract_file_types(source) == ["txt", "jpg"]


def test_view_file_types_from_entries_map():
    source = {"files": {"entries": {"a.zip": {"ext": "zip"}, "b.png": {}}}}
    assert extract_file_types(source) == ["zip", "png"]


@pytest.mark.parametrize(
    "source",
    [
        {},
        {"files": {"enabled": False}},
        {"files": {"types": [], "entries": []}},
        {"files": {"entries": {}}},
    ],
)
def test_no_files_gives_none(source):
    assert extract_file_types(source) is None


def test_download_counts_only_the_downloaded_file():
    event = {"file_id": "f-2", "file_key": "data.csv", "bucket_id": "b"}
    assert extract_file_types(RECORD, event) == ["csv"]
    assert extract_file_types(RECORD, {"file_key": "paper.PDF"}) == ["pdf"]


def test_download_of_an_unindexed_file_uses_the_key_rule():
    source = {"files": {"enabled": True}}  # metadata public, files restricted
    assert extract_file_types(source, {"file_key": "scan.JPEG"}) == ["jpg"]
    # Like File.ext: no usable suffix -> the octet-stream guess "bin".
    assert extract_file_types(source, {"file_key": "notes"}) == ["bin"]
    assert extract_file_types(source, {"bucket_id": "b"}) is None


@pytest.mark.parametrize(
    "key",
    [
        "photo.jpeg",
        "photo.JPG",
        "paper.pdf",
        "data.CSV",
        "archive.tar.gz",
        "table.xlsx",
        "model.h5",
        "strange.verylongext",
        "README",
        "image.tif",
        "notes.md",
        "a.json",
    ],
)
def test_file_extension_matches_invenio_file_ext(key):
    """The download fallback uses the same rule as ``File.ext`` (01 §7)."""
    from invenio_files_rest.utils import guess_mimetype
    from invenio_records_resources.records.api import File

    fake = SimpleNamespace(
        key=key, object_model=SimpleNamespace(mimetype=guess_mimetype(key))
    )
    assert file_extension(key) == File.ext.fget(fake)


def test_file_extension_uses_a_given_mimetype_first():
    assert file_extension("picture.bin", "image/png") == "png"
    assert file_extension(None) is None


# --- paths, projection, resolution --------------------------------------------------


def test_get_path_walks_lists():
    assert get_path(RECORD, "metadata.funding.funder.id") == ["00k4n6c32", "00k4n6c32"]
    assert get_path(RECORD, "custom_fields.journal:journal.title") == "Journal of Tests"
    assert get_path(RECORD, "metadata.missing.field") is None
    assert get_path(RECORD, "metadata.publisher.name") is None


def test_projection_keeps_only_mapped_subfields():
    resource_type = RECORD["metadata"]["resource_type"]
    projected = project_event_field("resource_type", resource_type)
    assert projected == {
        "id": "dataset",
        "@v": "rt-uuid::1",
        "title": {"en": "Dataset", "de": "Datensatz"},
        "props": {"type": "dataset", "subtype": ""},
    }
    rights = project_event_field("rights", RECORD["metadata"]["rights"])
    assert rights == [
        {
            "id": "cc-by-4.0",
            "title": {"en": "CC BY 4.0"},
            "description": {"en": "Attribution"},
            "props": {"url": "https://cc.org/by/4.0", "scheme": "spdx"},
            "link": "https://cc.org/by/4.0",
            "icon": "cc-by-icon",
        }
    ]


def test_projection_of_list_fields_and_unexpected_shapes():
    assert project_event_field("languages", None) == []
    assert project_event_field("languages", {"id": "eng"}) == [{"id": "eng"}]
    assert project_event_field("publisher", {"name": "x"}) is None
    assert project_event_field("resource_type", {"title": "not an object"}) is None
    assert project_event_field("custom_field", {"any": "thing"}) == {"any": "thing"}
    assert project(EVENT_FIELD_SHAPES["subjects"], [{"id": "s", "extra": 1}, 5]) == [
        {"id": "s"}
    ]


def test_mapped_event_fields():
    assert MAPPED_EVENT_FIELDS == {
        "resource_type",
        "access_status",
        "publisher",
        "languages",
        "subjects",
        "rights",
        "affiliations",
        "funders",
        "journal_title",
        "file_types",
    }


def test_resolve_extractor_forms():
    assert resolve_extractor(len) is len
    imported = resolve_extractor(
        "invenio_stats_dashboard.usage_events.extraction:extract_funders"
    )
    assert imported is extract_funders
    assert resolve_extractor("metadata.publisher")(RECORD) == "Zenodo"
    journal = resolve_extractor("custom_fields.journal:journal.title")
    assert journal(RECORD) == "Journal of Tests"


@pytest.mark.parametrize(
    "spec",
    [
        "",
        None,
        3,
        "invenio_stats_dashboard.usage_events.extraction:missing",
        "invenio_stats_dashboard.usage_events.extraction:KEYWORD",
    ],
)
def test_resolve_extractor_rejects(spec):
    with pytest.raises(ValueError):
        resolve_extractor(spec)


def test_default_usage_subcounts_extract_from_a_record():
    """Every enabled default usage side resolves and yields its mapped field."""
    expected = {
        "resource_type": {
            "id": "dataset",
            "@v": "rt-uuid::1",
            "title": {"en": "Dataset", "de": "Datensatz"},
            "props": {"type": "dataset", "subtype": ""},
        },
        "access_status": "open",
        "languages": [{"id": "eng", "@v": "l::1", "title": {"en": "English"}}],
        "publisher": "Zenodo",
        "journal_title": "Journal of Tests",
        "file_types": ["pdf", "csv"],
    }
    seen = set()
    for name, subcount in config.COMMUNITY_STATS_SUBCOUNTS.items():
        usage = subcount["usage_events"]
        if not usage.get("event_field"):
            continue
        field = usage["event_field"]
        extractor = resolve_extractor(usage["extraction_path_for_event"])
        value = project_event_field(field, extractor(RECORD))
        seen.add(field)
        if field in expected:
            assert value == expected[field], name
        else:
            assert value, name
    assert seen == {
        "resource_type",
        "access_status",
        "languages",
        "rights",
        "funders",
        "journal_title",
        "publisher",
        "affiliations",
        "file_types",
    }
