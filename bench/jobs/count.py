"""Not a measured job: count a COCO file's images and annotations (the harness's input and export checks).

Each record is skipped over as raw bytes (msgspec), so counting a train-scale file takes a second.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import msgspec


class _Counted(msgspec.Struct):
    images: list[msgspec.Raw] = []
    annotations: list[msgspec.Raw] = []


def main() -> None:
    doc = msgspec.json.decode(Path(sys.argv[1]).read_bytes(), type=_Counted)
    print(json.dumps({"images": len(doc.images), "annotations": len(doc.annotations)}))


if __name__ == "__main__":
    main()
