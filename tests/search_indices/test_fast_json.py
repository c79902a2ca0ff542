"""orjson for the search client during a migration gives the same values (fast_json)."""

from datetime import UTC, datetime
from uuid import UUID

import pytest
from invenio_search.utils import prefix_index
from opensearchpy.serializer import JSONSerializer

from invenio_stats_dashboard.search_indices.fast_json import (
    FastJSONSerializer,
    fast_json,
)

BIG = 2**64 + 1
"""Beyond orjson's 64-bit integers: the standard decoder must take over."""


@pytest.fixture()
def odd_document(app):
    """An unmapped document holding what orjson refuses or renders differently."""
    from invenio_search import current_search_client as client

    index = prefix_index("test-fast-json")
    client.indices.create(index=index, body={"mappings": {"dynamic": False}})
    source = {
        "text": "Zürich – 東京 – \u2028",
        "big": BIG,
        "float": 0.1,
        "nested": {"list": [1, None, True, "x"]},
    }
    client.index(index=index, id="odd", body=source, refresh=True)
    yield client, index, source
    client.indices.delete(index=index)


def test_round_trip_inside_and_outside_the_block_is_equal(odd_document):
    """Decoded responses equal the standard ones; the serializer is put back."""
    client, index, source = odd_document
    standard = client.get(index=index, id="odd")["_source"]
    with fast_json(client):
        assert isinstance(client.transport.serializer, FastJSONSerializer)
        fast = client.get(index=index, id="odd")["_source"]
        hits = client.search(index=index, body={"query": {"ids": {"values": ["odd"]}}})
    assert standard == fast == source
    assert hits["hits"]["hits"][0]["_source"] == source
    assert type(client.transport.serializer) is JSONSerializer
    assert type(client.transport.deserializer.default) is JSONSerializer


def test_encoding_matches_the_standard_serializer():
    """Dates, UUIDs, non-ASCII text and non-string keys encode as before."""
    fast, standard = FastJSONSerializer(), JSONSerializer()
    data = {
        "when": datetime(2024, 3, 9, 23, 59, 59, 123000),
        "aware": datetime(2024, 3, 9, 23, 59, 59, tzinfo=UTC),
        "id": UUID("c0ffee00-0000-4000-8000-000000000001"),
        "text": "Zürich",
        "big": BIG,
    }
    assert fast.loads(fast.dumps(data)) == standard.loads(standard.dumps(data))
    assert fast.dumps({1: "non-string key"}) == standard.dumps({1: "non-string key"})
    assert fast.dumps("already a body") == "already a body"


def test_a_configured_serializer_is_left_alone(app):
    """An instance's own serializer (not the stock JSON one) is never replaced."""
    from invenio_search import current_search_client as client

    class Own(JSONSerializer):
        pass

    transport = client.transport
    saved = transport.serializer
    transport.serializer = own = Own()
    try:
        with fast_json(client):
            assert transport.serializer is own
    finally:
        transport.serializer = saved


def test_digit_runs_inside_strings_keep_orjson(monkeypatch):
    """Event ids with long digit runs are decoded by orjson, big numbers are not."""
    used = []
    standard_loads = JSONSerializer.loads

    def recording_loads(self, s):
        used.append(s)
        return standard_loads(self, s)

    monkeypatch.setattr(JSONSerializer, "loads", recording_loads)
    fast = FastJSONSerializer()
    event_id = "2025-01-01T00:00:00-12345678901234567890abcdef"
    assert fast.loads(f'{{"_id": "{event_id}"}}') == {"_id": event_id}
    assert used == []
    assert fast.loads(f'{{"n": [1, {BIG}]}}') == {"n": [1, BIG]}
    assert len(used) == 1
