"""datumaro-import: ``datumaro.Dataset.import_from(dir, "coco_instances")``, then every item read.

Datumaro wants ``<dir>/annotations/instances_<subset>.json`` and ``<dir>/images/``; the job makes that
layout with a symlink to the input and an empty images folder. In Datumaro 1.13 the COCO extractor
parses the JSON and builds every DatasetItem (polygons, boxes) when import_from constructs it, but the
Dataset over it is lazy: ``init_cache()`` and iterating all items make sure the measurement includes the
whole load. Datumaro turns one COCO annotation into a Bbox plus one Polygon per part (or an RleMask), all
with the COCO id; the job counts distinct ids. RLE masks stay lazy (decoded on access), as pycocotools
also leaves them encoded.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench.jobs._common import Phases, emit, expect, parser


def layout(input_path: Path, workdir: Path) -> Path:
    """``workdir/datumaro/annotations/instances_default.json`` -> the input, and an empty ``images/default``
    (Datumaro refuses a COCO folder without one; the images are never read). Returns the dataset folder."""
    root = workdir / "datumaro"
    (root / "images" / "default").mkdir(parents=True, exist_ok=True)
    link = root / "annotations" / "instances_default.json"
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    os.symlink(input_path.resolve(), link)
    return root


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    phases = Phases()
    root = layout(Path(args.input), Path(args.workdir))
    with phases("import_module"):
        import datumaro

    start = time.perf_counter()
    with phases("import_from"):
        dataset = datumaro.Dataset.import_from(str(root), "coco_instances")
    with phases("materialize"):
        dataset.init_cache()
        items = 0
        shapes = 0
        ids: set[int] = set()
        for item in dataset:
            items += 1
            shapes += len(item.annotations)
            ids.update(ann.id for ann in item.annotations)
    work = time.perf_counter() - start
    expect("annotations loaded", len(ids), args.expect_annotations)
    emit(
        work, phases, items=items, annotations=len(ids), datumaro_shapes=shapes, datumaro=datumaro.__version__
    )


if __name__ == "__main__":
    main()
