"""What an evaluation is asked: COCOeval's parameters, with its defaults for each kind.

>>> p = Params.make("bbox")
>>> p.max_dets, p.area_labels, len(p.iou_thresholds)
((1, 10, 100), ('all', 'small', 'medium', 'large'), 10)
>>> Params.make("keypoints").max_dets
(20,)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from labelport.errors import FieldError, LabelportError
from labelport.limits import (
    MAX_AREA_RANGES,
    MAX_EVAL_CATEGORIES,
    MAX_IOU_THRESHOLDS,
    MAX_KEYPOINTS,
    MAX_MAX_DETS,
)

IOU_TYPES = ("bbox", "segm", "keypoints")

#: COCO's 17 person keypoint sigmas (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles)
COCO_PERSON_SIGMAS = (
    np.array(
        [0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89]
    )
    / 10.0
)

_DET_AREAS = {
    "all": (0.0**2, 1e5**2),
    "small": (0.0**2, 32.0**2),
    "medium": (32.0**2, 96.0**2),
    "large": (96.0**2, 1e5**2),
}
_KP_AREAS = {"all": (0.0**2, 1e5**2), "medium": (32.0**2, 96.0**2), "large": (96.0**2, 1e5**2)}

Floats = npt.NDArray[np.float64]

#: The most values each list of the parameters may hold: an evaluation's arrays grow with their product.
_MOST = {
    "max_dets": MAX_MAX_DETS,
    "iou_thresholds": MAX_IOU_THRESHOLDS,
    "area_ranges": MAX_AREA_RANGES,
    "categories": MAX_EVAL_CATEGORIES,
    "keypoint_sigmas": MAX_KEYPOINTS,
}


@dataclass(frozen=True)
class Params:
    """COCOeval's ``Params``: IoU and recall thresholds, maxDets, area ranges, categories."""

    iou_type: str
    iou_thresholds: tuple[float, ...]
    rec_thresholds: tuple[float, ...]
    max_dets: tuple[int, ...]
    area_labels: tuple[str, ...]
    area_ranges: tuple[tuple[float, float], ...]
    use_categories: bool = True
    categories: tuple[str, ...] | None = None
    keypoint_sigmas: tuple[float, ...] | None = None

    @classmethod
    def make(cls, iou_type: str = "bbox", **options: Any) -> Params:
        """COCOeval's defaults for ``iou_type``, with what the caller chose instead (see :meth:`_make`).

        >>> Params.make("bbox", max_dets=["a"])
        Traceback (most recent call last):
        labelport.errors.LabelportError: evaluation parameters: invalid literal for int() with base 10: 'a'.
        """
        for name in ("max_dets", "iou_thresholds", "keypoint_sigmas", "categories", "area_ranges"):
            value = options.get(name)
            if value is not None and not isinstance(
                value, (list, tuple, Mapping if name == "area_ranges" else list)
            ):
                raise LabelportError(f"{name} must be a list, not {type(value).__name__}.")
            if value is not None and len(value) > _MOST[name]:
                raise FieldError(
                    name, f"at most {_MOST[name]:,} values are taken, and this list has {len(value):,}"
                )
        try:
            return cls._make(iou_type, **options)
        except (TypeError, ValueError) as exc:  # a wrong type from a script or a request body
            raise LabelportError(f"evaluation parameters: {exc}.") from None

    @classmethod
    def _make(
        cls,
        iou_type: str = "bbox",
        *,
        categories: Sequence[str] | None = None,
        max_dets: Sequence[int] | None = None,
        iou_thresholds: Sequence[float] | None = None,
        area_ranges: Mapping[str, Sequence[float]] | Sequence[Sequence[float]] | None = None,
        use_categories: bool = True,
        keypoint_sigmas: Sequence[float] | None = None,
    ) -> Params:
        """COCOeval's defaults for ``iou_type``, with what the caller chose instead."""
        if iou_type not in IOU_TYPES:
            raise LabelportError(f"iou_type must be one of {', '.join(IOU_TYPES)}, not {iou_type!r}.")
        kp = iou_type == "keypoints"
        if iou_thresholds is None:
            ious = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
        else:
            ious = np.asarray([float(t) for t in iou_thresholds], dtype=np.float64)
            if not len(ious) or not np.all((ious >= 0) & (ious <= 1)):
                raise LabelportError("iou_thresholds must be one or more numbers from 0 to 1.")
        recs = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
        dets = tuple(int(m) for m in (max_dets if max_dets is not None else ((20,) if kp else (1, 10, 100))))
        if not dets or min(dets) < 1:
            raise LabelportError("max_dets must be one or more whole numbers of at least 1.")
        areas = _areas(area_ranges, _KP_AREAS if kp else _DET_AREAS)
        sigmas = None if keypoint_sigmas is None else tuple(float(s) for s in keypoint_sigmas)
        if sigmas is not None and (not sigmas or not all(0 < s < float("inf") for s in sigmas)):
            raise LabelportError("keypoint_sigmas must be positive numbers, one per keypoint.")
        return cls(
            iou_type,
            tuple(float(t) for t in ious),
            tuple(float(r) for r in recs),
            dets,
            tuple(areas),
            tuple(areas.values()),
            bool(use_categories),
            None if categories is None else tuple(str(c) for c in categories),
            sigmas,
        )

    @property
    def ious(self) -> Floats:
        return np.array(self.iou_thresholds, dtype=np.float64)

    @property
    def recs(self) -> Floats:
        return np.array(self.rec_thresholds, dtype=np.float64)

    def key(self) -> dict[str, Any]:
        """The parameters as JSON, the same for the same question (a stored evaluation's key)."""
        return {
            "iou_thresholds": list(self.iou_thresholds),
            "max_dets": list(self.max_dets),
            "area_ranges": [
                [label, list(r)] for label, r in zip(self.area_labels, self.area_ranges, strict=True)
            ],
            "use_categories": self.use_categories,
            "categories": None if self.categories is None else sorted(self.categories),
            "keypoint_sigmas": None if self.keypoint_sigmas is None else list(self.keypoint_sigmas),
        }

    @classmethod
    def from_key(cls, iou_type: str, key: Mapping[str, Any]) -> Params:
        return cls.make(
            iou_type,
            categories=key["categories"],
            max_dets=key["max_dets"],
            iou_thresholds=key["iou_thresholds"],
            area_ranges={label: r for label, r in key["area_ranges"]},
            use_categories=key["use_categories"],
            keypoint_sigmas=key["keypoint_sigmas"],
        )


def _areas(
    given: Mapping[str, Sequence[float]] | Sequence[Sequence[float]] | None,
    default: dict[str, tuple[float, float]],
) -> dict[str, tuple[float, float]]:
    if given is None:
        return dict(default)
    if isinstance(given, Mapping):
        pairs = [(str(k), v) for k, v in given.items()]
    else:
        labels = list(default)
        pairs = [(labels[i] if i < len(labels) else f"range{i}", v) for i, v in enumerate(given)]
    out: dict[str, tuple[float, float]] = {}
    for label, r in pairs:
        if len(r) != 2 or not float(r[0]) <= float(r[1]):
            raise LabelportError(
                f"area range {label!r} must be [low, high] with low <= high, not {list(r)!r}."
            )
        out[label] = (float(r[0]), float(r[1]))
    if not out:
        raise LabelportError("area_ranges must name at least one range.")
    return out
