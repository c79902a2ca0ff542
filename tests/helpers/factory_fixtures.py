"""Fixtures of the general factories (09 §8.3–§8.4).

Add ``"helpers.factory_fixtures"`` to ``pytest_plugins`` to use them.
"""

from types import SimpleNamespace

import pytest


@pytest.fixture(scope="module")
def running_app(app, location, database):
    """The app with a files location and the test vocabularies loaded (once per module).

    Vocabulary rows are committed through the module-scoped ``database`` session, so
    function-scoped ``db`` tests see them; their documents are in the vocabulary
    indices. ``search_clear`` empties those indices again (the rows stay, which is all
    record validation needs); call ``running_app.reload_vocabularies()``
    (``helpers.vocabularies.reindex_vocabularies``) if a test needs them searchable
    afterwards. Also declares the invenio-stats event queues.
    """
    from invenio_search.utils import prefix_index

    from helpers.usage_events import purge_event_queues
    from helpers.vocabularies import load_vocabularies, reindex_vocabularies

    vocabularies = load_vocabularies()
    purge_event_queues()

    return SimpleNamespace(
        app=app,
        location=location,
        vocabularies=vocabularies,
        prefix=prefix_index(""),
        reload_vocabularies=reindex_vocabularies,
    )


def delete_stats_indices():
    """Delete every ``{P}events-stats-*``, ``{P}stats-*`` and ``backup-{P}*`` index.

    Names are resolved first and deleted one by one (no wildcard delete), so only this
    session's indices are touched. Returns the deleted names.
    """
    from invenio_search import current_search_client
    from invenio_search.utils import prefix_index

    names = []
    for pattern in ("events-stats-*", "stats-*"):
        found = current_search_client.indices.get(
            index=f"{prefix_index(pattern)},backup-{prefix_index(pattern)}",
            expand_wildcards="all",
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        names.extend(found)
    for name in sorted(set(names)):
        current_search_client.indices.delete(index=name, ignore=[404])
    return sorted(set(names))


@pytest.fixture()
def clear_stats_indices(running_app):
    """After the test, delete this session's ``{P}events-stats-*`` and ``{P}stats-*``.

    Also purges the event queues before and after, so no queued event leaks between
    tests. pytest-invenio's ``search_clear`` does not touch these template-created
    indices.
    """
    from helpers.usage_events import purge_event_queues

    purge_event_queues()
    yield
    purge_event_queues()
    delete_stats_indices()


@pytest.fixture(scope="module")
def community_factory(running_app):
    """:func:`helpers.communities.make_community`."""
    from helpers.communities import make_community

    return make_community


@pytest.fixture(scope="module")
def record_factory(running_app):
    """:func:`helpers.records.make_record`."""
    from helpers.records import make_record

    return make_record


@pytest.fixture(scope="module")
def user_factory(running_app):
    """:func:`helpers.users.make_user`."""
    from helpers.users import make_user

    return make_user
