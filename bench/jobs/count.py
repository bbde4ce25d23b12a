"""Not a measured job: count a COCO file's images and annotations (the harness's input and export checks)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.jobs.raw_limit import codec


def main() -> None:
    _, decode, _ = codec()
    doc = decode(Path(sys.argv[1]).read_bytes())
    print(json.dumps({"images": len(doc.get("images", [])), "annotations": len(doc.get("annotations", []))}))


if __name__ == "__main__":
    main()
