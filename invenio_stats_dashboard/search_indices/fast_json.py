"""Faster JSON for the search client while a long copy runs.

A migration decodes millions of records and events and encodes large script
parameters; with the standard library's ``json`` that is the biggest share of the
migrating process's CPU. :func:`fast_json` lets the client's transport use orjson
for the duration of a block. The results are the same Python values; whatever
orjson refuses (integers beyond 64 bits, non-string keys) falls back to the
standard serializer, and a serializer the instance configured itself is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opensearchpy.serializer import JSONSerializer

_orjson: Any
try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - then the block runs with the standard one
    _orjson = None

JSON_MIMETYPE = JSONSerializer.mimetype
_LONG_INTEGER = re.compile(r"[:,\[]\s*-?\d{20}")
"""A JSON number of 20 digits or more (also matches such text inside a string)."""


class FastJSONSerializer(JSONSerializer):
    """opensearch-py's JSON serializer, with orjson doing the work when it can."""

    def loads(self, s: str) -> Any:
        """Decode with orjson; let the standard decoder handle what orjson refuses.

        orjson turns integers beyond 64 bits into floats, so a text holding a number
        of 20 digits or more goes to the standard decoder, which keeps them exact.
        Digits inside strings (hexadecimal event ids) do not count.
        """
        if _LONG_INTEGER.search(s):
            return super().loads(s)
        try:
            return _orjson.loads(s)
        except _orjson.JSONDecodeError:
            return super().loads(s)

    def dumps(self, data: Any) -> Any:
        """Encode with orjson; let the standard encoder handle what orjson refuses."""
        if isinstance(data, str | bytes):
            return data
        try:
            return _orjson.dumps(data, default=self.default).decode()
        except TypeError:
            return super().dumps(data)


@contextmanager
def fast_json(client) -> Iterator[None]:
    """Let ``client`` encode and decode JSON with orjson while the block runs."""
    transport = getattr(client, "transport", None)
    if _orjson is None or transport is None:
        yield
        return
    deserializer = transport.deserializer
    saved = (
        transport.serializer,
        deserializer.default,
        deserializer.serializers.get(JSON_MIMETYPE),
    )
    if type(saved[0]) is not JSONSerializer or type(saved[1]) is not JSONSerializer:
        yield  # already fast, or an instance's own serializer: leave it
        return
    fast = FastJSONSerializer()
    transport.serializer = deserializer.default = fast
    deserializer.serializers[JSON_MIMETYPE] = fast
    try:
        yield
    finally:
        transport.serializer, deserializer.default = saved[0], saved[1]
        if saved[2] is not None:
            deserializer.serializers[JSON_MIMETYPE] = saved[2]
