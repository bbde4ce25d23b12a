"""Stable short identifiers in the platform's style (8 hex digits for features, uuid4 for rows).

>>> len(new_feature_hash())
8
"""

from __future__ import annotations

import os
import secrets


def new_feature_hash() -> str:
    """A new ``feature_node_hash`` or ``object_hash``: 8 random hex digits."""
    return secrets.token_hex(4)


def new_uuid() -> str:
    """A new project, data, label or ontology hash: a random UUID4 string."""
    return new_uuids(1)[0]


def new_uuids(count: int, *, ordered: bool = False) -> list[str]:
    """``count`` new random UUID4 strings, from one read of the system's random source; in sorted
    order with ``ordered``, for a batch that goes into a unique index: inserted in order, the index
    takes them at a few places instead of at a random page each (in random order, a
    large batch misses SQLite's page cache on nearly every insert).

    (``str(uuid.uuid4())`` makes an object and reads ``os.urandom`` once per call, which adds up
    over the hundreds of thousands of hashes a large import makes.)

    >>> [len(h) for h in new_uuids(2)], new_uuids(1)[0][14]
    ([36, 36], '4')
    >>> batch = new_uuids(5, ordered=True); batch == sorted(batch)
    True
    """
    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = bytes(b & 0x0F | 0x40 for b in raw[6::16])  # version 4
    raw[8::16] = bytes(b & 0x3F | 0x80 for b in raw[8::16])  # RFC 4122 variant
    text = raw.hex()
    hashes = [
        f"{text[i : i + 8]}-{text[i + 8 : i + 12]}-{text[i + 12 : i + 16]}-{text[i + 16 : i + 20]}-{text[i + 20 : i + 32]}"
        for i in range(0, 32 * count, 32)
    ]
    if ordered:
        hashes.sort()
    return hashes
