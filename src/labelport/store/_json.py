"""JSON helpers shared by the stores: msgspec for speed, one encoder and decoder each."""

from __future__ import annotations

from typing import Any

import msgspec

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


def dumps(value: Any) -> bytes:
    return _encoder.encode(value)


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    return _decoder.decode(data)
