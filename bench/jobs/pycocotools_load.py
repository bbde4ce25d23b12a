"""pycocotools-load / pycocotools-load-export: ``pycocotools.coco.COCO(path)``, the reference loader.

COCO() reads the file with the stdlib json module and builds its indexes (anns, imgs, cats, imgToAnns,
catToImgs). Nothing else is done; the annotation count is read from the loaded dataset afterwards.
"""

from __future__ import annotations

import time

from bench.jobs._common import Phases, emit, expect, parser


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    phases = Phases()
    with phases("import_module"):
        from pycocotools.coco import COCO
    start = time.perf_counter()
    with phases("load"):
        coco = COCO(args.input)
    work = time.perf_counter() - start
    annotations = len(coco.dataset.get("annotations", []))
    expect("annotations loaded", annotations, args.expect_annotations)
    emit(work, phases, annotations=annotations, images=len(coco.imgs))


if __name__ == "__main__":
    main()
