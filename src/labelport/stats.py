"""A branch in numbers: objects per class and shape, data units with and without objects, and each
class's area and size distribution (areas and boxes as an export computes them).

>>> from labelport.store.sqlite import SqliteStore
>>> from labelport.service import LocalService
>>> service = LocalService.embedded(SqliteStore(":memory:"), name="ada", fingerprint="SHA256:x")
>>> stats = branch_stats(service.store, service.create_project("empty"), "main")
>>> stats["data_units"], stats["objects"], stats["classes"]
(0, 0, [])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from labelport.store.base import LabelStore, ObjectRecord
from labelport.stored.decode import stored_coordinates
from labelport.stored.encode import area_and_bbox

#: COCO's size buckets: an area under 32² pixels is small, under 96² medium, else large
SMALL, MEDIUM = 32**2, 96**2


@dataclass
class _Class:
    title: str
    shape: str
    feature_hash: str
    objects: set[tuple[str, str]] = field(default_factory=set)
    annotations: int = 0
    areas: list[float] = field(default_factory=list)
    widths: list[float] = field(default_factory=list)
    heights: list[float] = field(default_factory=list)

    def add(self, o: ObjectRecord, area: float, bbox: Sequence[float] | None) -> None:
        self.objects.add((o.data_hash, o.object_hash))
        self.annotations += 1
        self.areas.append(float(area))
        if bbox is not None:
            self.widths.append(float(bbox[2]))
            self.heights.append(float(bbox[3]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "shape": self.shape,
            "feature_hash": self.feature_hash,
            "objects": len(self.objects),
            "annotations": self.annotations,
            "area": distribution(self.areas),
            "width": distribution(self.widths),
            "height": distribution(self.heights),
            "sizes": {
                "small": sum(1 for a in self.areas if a < SMALL),
                "medium": sum(1 for a in self.areas if SMALL <= a < MEDIUM),
                "large": sum(1 for a in self.areas if a >= MEDIUM),
            },
        }


def distribution(values: Sequence[float]) -> dict[str, float] | None:
    """min, 25th percentile, median, 75th percentile, max and mean; None for no values.

    >>> distribution([1, 2, 3, 4, 5])
    {'min': 1.0, 'p25': 2.0, 'median': 3.0, 'p75': 4.0, 'max': 5.0, 'mean': 3.0}
    """
    if not values:
        return None
    import numpy as np

    a = np.asarray(values, dtype=float)
    p25, median, p75 = (float(v) for v in np.percentile(a, [25, 50, 75]))
    return {
        "min": float(a.min()),
        "p25": p25,
        "median": median,
        "p75": p75,
        "max": float(a.max()),
        "mean": round(float(a.mean()), 6),
    }


def branch_stats(store: LabelStore, project_hash: str, branch: str) -> dict[str, Any]:
    """The numbers of one branch of a project, as JSON-ready data."""
    project = store.get_project(project_hash)
    ontology = store.get_ontology(project.ontology_hash).structure
    units = {u.data_hash: u for u in store.list_data_units(project_hash)}
    classes = {
        o.feature_node_hash: _Class(o.title, o.shape.value, o.feature_node_hash) for o in ontology.objects
    }
    objects = ontology.object_by_hash()
    labelled: set[str] = set()
    for o in store.iter_objects(project_hash, branch):
        found = classes.get(o.feature_hash)
        unit = units.get(o.data_hash)
        if found is None or unit is None:
            continue
        labelled.add(o.data_hash)
        shape = objects[o.feature_hash].shape
        width, height = unit.frame_size(o.frame) if o.frame < unit.frames else (unit.width, unit.height)
        coordinates = stored_coordinates(shape, o.geometry, o.record, width, height)
        area, bbox = area_and_bbox(coordinates, height=height, width=width)
        found.add(o, area, bbox)
    listed = [c.to_dict() for c in classes.values()]
    shapes: dict[str, int] = {}
    for c in listed:
        shapes[c["shape"]] = shapes.get(c["shape"], 0) + c["objects"]
    return {
        "project_hash": project_hash,
        "branch": branch,
        "data_units": len(units),
        "units_with_objects": len(labelled),
        "units_without_objects": len(units) - len(labelled),
        "objects": sum(c["objects"] for c in listed),
        "annotations": sum(c["annotations"] for c in listed),
        "shapes": {k: v for k, v in sorted(shapes.items()) if v},
        "classes": listed,
    }
