"""Minimal vocabularies for test records and communities (09 §8.4).

The entries live in small YAML files under ``tests/data/vocabularies/``; the manifest
``vocabularies.yaml`` there lists each vocabulary type with its PID type, data file and,
for the non-generic vocabularies (subjects, affiliations, funders, awards), the service
that owns it. Everything is created through the real vocabulary services with the system
identity, so the rows are in the database and the documents in the vocabulary indices.
"""

from pathlib import Path

import yaml
from invenio_access.permissions import system_identity
from invenio_db import db
from invenio_pidstore.errors import PIDDoesNotExistError
from invenio_records_resources.proxies import current_service_registry
from invenio_search import current_search_client
from invenio_search.utils import prefix_index
from invenio_vocabularies.proxies import current_service as vocabulary_service
from invenio_vocabularies.records.models import VocabularyScheme, VocabularyType
from sqlalchemy.orm.exc import NoResultFound

VOCABULARIES_DIR = Path(__file__).resolve().parent.parent / "data" / "vocabularies"
"""Folder holding ``vocabularies.yaml`` and the data files it names."""

# Ids of the loaded entries, for tests that want to spread records over them.
RESOURCE_TYPES = (
    "dataset",
    "publication",
    "publication-article",
    "image",
    "image-photo",
    "software",
)
LANGUAGES = ("eng", "fra", "deu")
LICENSES = ("cc-by-4.0", "cc0-1.0")
SUBJECTS = (
    "http://www.oecd.org/science/inno/38235147.pdf?1.1",
    "http://www.oecd.org/science/inno/38235147.pdf?1.6",
)
AFFILIATIONS = ("01ggx4157", "04d836q62")
FUNDERS = ("00k4n6c32", "021nxhr62")
AWARDS = ("00k4n6c32::101000001",)
ROLES = ("researcher", "supervisor", "datacurator", "other")
COMMUNITY_TYPES = ("organization", "project", "topic")
REMOVAL_REASONS = ("spam", "retracted", "duplicate")


def read_manifest(directory=VOCABULARIES_DIR):
    """Return the manifest ``{type: {"pid-type", "data-file", "service"?, ...}}``."""
    with open(Path(directory) / "vocabularies.yaml") as fp:
        return yaml.safe_load(fp) or {}


def read_entries(vocabulary_type, directory=VOCABULARIES_DIR):
    """Return the entries (dicts) of one vocabulary type as stored in its data file."""
    spec = read_manifest(directory)[vocabulary_type]
    with open(Path(directory) / spec["data-file"]) as fp:
        return yaml.safe_load(fp) or []


def _ensure_type(type_id, pid_type):
    if db.session.get(VocabularyType, type_id) is None:
        vocabulary_service.create_type(system_identity, type_id, pid_type)


def _ensure_scheme(parent_id, scheme):
    if db.session.get(VocabularyScheme, (scheme["id"], parent_id)) is None:
        VocabularyScheme.create(
            id=scheme["id"],
            parent_id=parent_id,
            name=scheme.get("name", ""),
            uri=scheme.get("uri", ""),
        )


def _exists(service, pid):
    try:
        service.read(system_identity, pid)
    except (PIDDoesNotExistError, NoResultFound):
        return False
    return True


def load_vocabularies(directory=VOCABULARIES_DIR, types=None):
    """Create every manifest entry that does not exist yet; return ids per type.

    Idempotent: existing types, schemes and entries are skipped. Commits the session and
    refreshes the vocabulary indices so searches see the entries at once.
    """
    loaded = {}
    for type_id, spec in read_manifest(directory).items():
        if types is not None and type_id not in types:
            continue
        service_id = spec.get("service", "vocabularies")
        service = current_service_registry.get(service_id)
        _ensure_type(type_id, spec["pid-type"])
        for scheme in spec.get("schemes", []):
            _ensure_scheme(type_id, scheme)
        db.session.commit()

        ids = []
        for entry in read_entries(type_id, directory):
            data = dict(entry)
            if service_id == "vocabularies":
                data["type"] = type_id
                pid = (type_id, data["id"])
            else:
                pid = data["id"]
            if not _exists(service, pid):
                service.create(system_identity, data)
            ids.append(data["id"])
        loaded[type_id] = ids
    db.session.commit()
    refresh_vocabulary_indices()
    return loaded


def refresh_vocabulary_indices():
    """Refresh every vocabulary index of this search prefix."""
    current_search_client.indices.refresh(
        index=",".join(
            prefix_index(name) + "*"
            for name in (
                "vocabularies",
                "subjects",
                "affiliations",
                "funders",
                "awards",
                "names",
            )
        ),
        ignore_unavailable=True,
        allow_no_indices=True,
    )


def reindex_vocabularies(
    service_ids=("vocabularies", "subjects", "affiliations", "funders", "awards"),
):
    """Index every vocabulary row again from the database (after ``search_clear``)."""
    for service_id in service_ids:
        service = current_service_registry.get(service_id)
        record_cls = service.record_cls
        for model in record_cls.model_cls.query.all():
            service.indexer.index(record_cls(model.data, model=model))
    refresh_vocabulary_indices()
