"""The one JSON encoder and decoder of what is stored (msgspec, each built once).

>>> loads(dumps({"bbox": [1, 2, 3, 4]}))
{'bbox': [1, 2, 3, 4]}
"""

from __future__ import annotations

from typing import Any

import msgspec

encoder = msgspec.json.Encoder()
decoder = msgspec.json.Decoder()


def dumps(value: Any) -> bytes:
    return encoder.encode(value)


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    return decoder.decode(data)
