"""faster-coco-eval-eval: faster_coco_eval's COCO(gt), loadRes(preds) and COCOeval(bbox) from the JSON files; the 12 stats."""

from __future__ import annotations

from bench.jobs._eval import eval_job

if __name__ == "__main__":
    eval_job(__doc__ or "", "faster_coco_eval")
