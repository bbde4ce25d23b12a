"""What the evaluation jobs share: the predictions' argument, COCOeval's steps timed, the result line."""

from __future__ import annotations

import contextlib
import io
import time
from typing import Any

from bench.jobs._common import Phases, emit, parser


def eval_parser(doc: str) -> Any:
    ap = parser(doc)
    ap.add_argument("--preds", required=True, help="the results list (make_preds.py) for the input file")
    return ap


def run_cocoeval(coco_cls: Any, eval_cls: Any, gt_path: str, preds_path: str, phases: Phases) -> list[float]:
    """COCO(gt), loadRes(preds), COCOeval(bbox).evaluate/accumulate/summarize; the 12 stats."""
    with contextlib.redirect_stdout(io.StringIO()):
        with phases("load"):
            gt = coco_cls(gt_path)
            dt = gt.loadRes(preds_path)
        with phases("evaluate"):
            ev = eval_cls(gt, dt, "bbox")
            ev.evaluate()
        with phases("accumulate"):
            ev.accumulate()
            ev.summarize()
    return [float(s) for s in ev.stats]


def eval_job(doc: str, engine: str) -> None:
    """One of pycocotools, faster_coco_eval, hotcoco, from the JSON files to the 12 numbers."""
    args = eval_parser(doc).parse_args()
    phases = Phases()
    with phases("import_module"):
        if engine == "pycocotools":
            from pycocotools.coco import COCO
            from pycocotools.cocoeval import COCOeval
        elif engine == "faster_coco_eval":
            from faster_coco_eval import COCO  # type: ignore[no-redef]
            from faster_coco_eval import COCOeval_faster as COCOeval
        else:
            from hotcoco import COCO, COCOeval  # type: ignore[no-redef]
    start = time.perf_counter()
    stats = run_cocoeval(COCO, COCOeval, args.input, args.preds, phases)
    emit(time.perf_counter() - start, phases, stats=stats)
