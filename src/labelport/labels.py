"""Labels: label rows, object instances with per-frame geometry, classification instances, branches.

Geometry is kept in pixel coordinates exactly as given (ints stay ints, floats keep every digit);
``normalised(width, height)`` gives the 0..1 views that the platform vocabulary uses.

>>> from labelport.ontology import Object, Shape
>>> car = Object(title="car", shape=Shape.BOUNDING_BOX)
>>> instance = ObjectInstance(car)
>>> instance.set_for_frames(BoundingBox(10, 20, 30, 40), frames=0)
>>> instance.get_annotation(0).coordinates.normalised(100, 200)
{'top_left_x': 0.1, 'top_left_y': 0.1, 'width': 0.3, 'height': 0.2}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from labelport.coordinates import (
    Bitmask as Bitmask,
)
from labelport.coordinates import (
    BoundingBox as BoundingBox,
)
from labelport.coordinates import (
    Coordinates as Coordinates,
)
from labelport.coordinates import (
    Number as Number,
)
from labelport.coordinates import (
    Point as Point,
)
from labelport.coordinates import (
    Polygon as Polygon,
)
from labelport.coordinates import (
    Polyline as Polyline,
)
from labelport.coordinates import (
    RotatableBoundingBox as RotatableBoundingBox,
)
from labelport.coordinates import (
    Skeleton as Skeleton,
)
from labelport.coordinates import (
    coordinates_from_json as coordinates_from_json,
)
from labelport.errors import LabelError
from labelport.hashing import new_feature_hash
from labelport.ontology import Attribute, AttributeType, Classification, Object

MAIN_BRANCH = "main"


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class Origin:
    """Where an annotation came from: a named import source, its key there, and the record as written.

    ``record`` holds the source's own bytes (for COCO, the annotation object) so that an export can
    give back everything that came in, including fields labelport does not model.
    ``geometry_edited`` turns true once the coordinates were changed after the import.
    """

    source: str
    key: int
    record: bytes
    geometry_edited: bool = False


class ObjectFrame:
    """One object instance on one frame: its coordinates and who made them.

    Coordinates may be given, or a ``load`` function that computes them on first use (an imported
    annotation's are read from its source record only when somebody looks).
    """

    __slots__ = (
        "_coordinates",
        "_load",
        "confidence",
        "created_at",
        "created_by",
        "frame",
        "manual_annotation",
        "origin",
    )

    def __init__(
        self,
        frame: int,
        coordinates: Coordinates | None = None,
        confidence: float = 1.0,
        manual_annotation: bool = True,
        created_by: str | None = None,
        created_at: str | None = None,
        origin: Origin | None = None,
        *,
        load: Callable[[], Coordinates] | None = None,
    ) -> None:
        if coordinates is None and load is None:
            raise LabelError("an object frame needs coordinates.")
        self.frame = frame
        self._coordinates = coordinates
        self._load = load
        self.confidence = confidence
        self.manual_annotation = manual_annotation
        self.created_by = created_by
        self.created_at = created_at
        self.origin = origin

    @property
    def coordinates(self) -> Coordinates:
        if self._coordinates is None:
            assert self._load is not None
            self._coordinates, self._load = self._load(), None
        return self._coordinates

    def __repr__(self) -> str:
        shown = "<not read yet>" if self._coordinates is None else repr(self._coordinates)
        return f"ObjectFrame(frame={self.frame}, coordinates={shown}, confidence={self.confidence})"


class ObjectInstance:
    """An instance of an ontology object, followed across the frames it appears on."""

    def __init__(self, ontology_object: Object, *, object_hash: str | None = None) -> None:
        self.ontology_item = ontology_object
        self.object_hash = object_hash or new_feature_hash()
        self.frames: dict[int, ObjectFrame] = {}
        self.answers: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"ObjectInstance({self.ontology_item.title!r}, object_hash={self.object_hash!r}, frames={sorted(self.frames)})"

    @property
    def feature_hash(self) -> str:
        return self.ontology_item.feature_node_hash

    def set_for_frames(
        self,
        coordinates: Coordinates,
        frames: int | Iterable[int] = 0,
        *,
        confidence: float = 1.0,
        manual_annotation: bool = True,
        created_by: str | None = None,
        created_at: str | None = None,
        overwrite: bool = True,
    ) -> None:
        """Place the instance on one or more frames with these coordinates."""
        if coordinates.shape is not self.ontology_item.shape:
            raise LabelError(
                f"object {self.ontology_item.title!r} is a {self.ontology_item.shape.value}; "
                f"it cannot take {coordinates.shape.value} coordinates."
            )
        if not 0.0 <= confidence <= 1.0:
            raise LabelError(f"confidence must be between 0 and 1, not {confidence}.")
        for frame in [frames] if isinstance(frames, int) else list(frames):
            if frame < 0:
                raise LabelError(f"frame numbers start at 0, not {frame}.")
            old = self.frames.get(frame)
            if old is not None and not overwrite:
                raise LabelError(
                    f"object {self.object_hash} is already on frame {frame}; pass overwrite=True."
                )
            origin = old.origin if old is not None else None
            if origin is not None and old is not None and old.coordinates != coordinates:
                origin = Origin(origin.source, origin.key, origin.record, geometry_edited=True)
            self.frames[frame] = ObjectFrame(
                frame, coordinates, confidence, manual_annotation, created_by, created_at or now_iso(), origin
            )

    def get_annotation(self, frame: int = 0) -> ObjectFrame:
        """The instance on one frame; :class:`LabelError` when it is not there."""
        try:
            return self.frames[frame]
        except KeyError:
            raise LabelError(f"object {self.object_hash} is not on frame {frame}.") from None

    def get_annotations(self) -> list[ObjectFrame]:
        """The instance on every frame it appears on, in frame order."""
        return [self.frames[f] for f in sorted(self.frames)]

    def remove_from_frames(self, frames: int | Iterable[int]) -> None:
        for frame in [frames] if isinstance(frames, int) else list(frames):
            self.frames.pop(frame, None)

    def set_answer(self, answer: Any, attribute: Attribute | None = None) -> None:
        """Answer an attribute: text for text, an option for radio, a list of options for checklist."""
        attribute = attribute or _only_attribute(self.ontology_item.attributes, self.ontology_item.title)
        self.answers[attribute.feature_node_hash] = _answer_value(attribute, answer)

    def get_answer(self, attribute: Attribute) -> Any:
        """The answer given to an attribute, or None."""
        return self.answers.get(attribute.feature_node_hash)


class ClassificationInstance:
    """A frame-level classification answered on some frames."""

    def __init__(
        self, ontology_classification: Classification, *, classification_hash: str | None = None
    ) -> None:
        self.ontology_item = ontology_classification
        self.classification_hash = classification_hash or new_feature_hash()
        self.frames: set[int] = set()
        self.answer: Any = None
        self.created_by: str | None = None
        self.created_at: str | None = None

    @property
    def feature_hash(self) -> str:
        return self.ontology_item.feature_node_hash

    def set_for_frames(self, frames: int | Iterable[int] = 0) -> None:
        self.frames.update([frames] if isinstance(frames, int) else frames)

    def set_answer(self, answer: Any) -> None:
        self.answer = _answer_value(self.ontology_item.attribute, answer)

    def get_answer(self) -> Any:
        return self.answer


def _only_attribute(attributes: list[Attribute], title: str) -> Attribute:
    if len(attributes) != 1:
        raise LabelError(f"object {title!r} has {len(attributes)} attributes; say which one to answer.")
    return attributes[0]


def _answer_value(attribute: Attribute, answer: Any) -> Any:
    """The stored form of an answer: text stays itself, options become their feature hashes."""
    if attribute.type is AttributeType.TEXT:
        if isinstance(answer, (dict, list)):
            raise LabelError(f"attribute {attribute.name!r} takes text, not {type(answer).__name__}.")
        return answer
    options = answer if attribute.type is AttributeType.CHECKLIST else [answer]
    if not isinstance(options, list):
        raise LabelError(f"checklist attribute {attribute.name!r} takes a list of options.")
    hashes = []
    for option in options:
        label = getattr(option, "label", option)
        hashes.append(attribute.option(str(label)).feature_node_hash)
    return hashes if attribute.type is AttributeType.CHECKLIST else hashes[0]


class LabelRowInfo(NamedTuple):
    """A label row without its labels: what listing a project's rows reads (one per data unit).

    ``label_hash`` is empty when the unit has no row on the branch yet; ``object_count`` counts
    object instances (distinct object hashes), not object frames.
    """

    data_hash: str
    data_title: str
    data_type: str
    width: int
    height: int
    frames: int
    branch: str
    label_hash: str
    object_count: int


class LabelRow:
    """The labels of one data unit on one branch.

    ``project.list_label_rows_v2()`` lists rows as light handles: the data unit's title, type, size
    and frames, the branch, the label hash and how many objects the row holds. The objects and
    classifications are read on ``initialise_labels()`` (``project.initialise_labels(rows)`` reads
    many in one go), or on first use of ``object_instances``. Change the row, then ``save()``.

    >>> row = LabelRow("", "d1", "a.jpg", "image", 640, 480, 1)
    >>> row.is_labelling_initialised, row.object_instances, row.object_count
    (True, [], 0)
    """

    __slots__ = ("_classifications", "_info", "_loader", "_objects", "_saver", "label_hash")
    _info: LabelRowInfo
    label_hash: str
    _saver: Callable[[LabelRow], None] | None
    _loader: Callable[[LabelRow], None] | None
    _objects: list[ObjectInstance] | None
    _classifications: list[ClassificationInstance] | None

    def __init__(
        self,
        label_hash: str,
        data_hash: str,
        data_title: str,
        data_type: str,
        width: int,
        height: int,
        number_of_frames: int,
        branch_name: str = MAIN_BRANCH,
        object_instances: list[ObjectInstance] | None = None,
        classification_instances: list[ClassificationInstance] | None = None,
        _saver: Callable[[LabelRow], None] | None = None,
    ) -> None:
        info = LabelRowInfo(
            data_hash, data_title, data_type, width, height, number_of_frames, branch_name, label_hash, 0
        )
        self._info = info
        self.label_hash = label_hash
        self._saver = _saver
        self._loader = None
        self._objects = object_instances if object_instances is not None else []
        self._classifications = classification_instances if classification_instances is not None else []

    @classmethod
    def from_info(
        cls,
        info: LabelRowInfo,
        saver: Callable[[LabelRow], None] | None,
        loader: Callable[[LabelRow], None] | None,
    ) -> LabelRow:
        """A light handle: ``loader(row)`` gives it its labels (:meth:`set_labels`) when first needed."""
        row = cls.__new__(cls)
        row._info, row.label_hash, row._saver, row._loader = info, info.label_hash, saver, loader
        row._objects = row._classifications = None
        return row

    def __repr__(self) -> str:
        return (
            f"LabelRow({self.data_title!r}, data_hash={self.data_hash!r}, branch_name={self.branch_name!r}, "
            f"object_count={self.object_count})"
        )

    @property
    def data_hash(self) -> str:
        return self._info.data_hash

    @property
    def data_title(self) -> str:
        return self._info.data_title

    @property
    def data_type(self) -> str:
        return self._info.data_type

    @property
    def width(self) -> int:
        return self._info.width

    @property
    def height(self) -> int:
        return self._info.height

    @property
    def number_of_frames(self) -> int:
        return self._info.frames

    @property
    def branch_name(self) -> str:
        return self._info.branch

    @property
    def is_labelling_initialised(self) -> bool:
        """Whether the row's objects and classifications have been read."""
        return self._objects is not None

    @property
    def object_count(self) -> int:
        """Object instances in the row: as stored until the row is read, then as it is now."""
        return self._info.object_count if self._objects is None else len(self._objects)

    def initialise_labels(self, *args: Any, **kwargs: Any) -> None:
        """Read the row's objects and classifications (once; the brief's arguments are accepted)."""
        if self._objects is None and self._loader is not None:
            self._loader(self)
        if self._objects is None:  # a loader that found nothing stored: an empty row
            self.set_labels([], [])

    def set_labels(
        self, objects: list[ObjectInstance], classifications: list[ClassificationInstance]
    ) -> None:
        """Give the row its objects and classifications (what a loader does)."""
        self._objects, self._classifications, self._loader = objects, classifications, None

    @property
    def object_instances(self) -> list[ObjectInstance]:
        if self._objects is None:
            self.initialise_labels()
        assert self._objects is not None
        return self._objects

    @object_instances.setter
    def object_instances(self, value: list[ObjectInstance]) -> None:
        if self._objects is None:
            self.initialise_labels()
        self._objects = value

    @property
    def classification_instances(self) -> list[ClassificationInstance]:
        if self._classifications is None:
            self.initialise_labels()
        assert self._classifications is not None
        return self._classifications

    @classification_instances.setter
    def classification_instances(self, value: list[ClassificationInstance]) -> None:
        if self._classifications is None:
            self.initialise_labels()
        self._classifications = value

    def get_object_instances(self, filter_ontology_object: Object | None = None) -> list[ObjectInstance]:
        if filter_ontology_object is None:
            return list(self.object_instances)
        return [o for o in self.object_instances if o.ontology_item is filter_ontology_object]

    def get_classification_instances(self) -> list[ClassificationInstance]:
        return list(self.classification_instances)

    def add_object_instance(self, instance: ObjectInstance) -> None:
        for frame in instance.frames:
            if frame >= self.number_of_frames:
                raise LabelError(
                    f"frame {frame} is beyond {self.data_title!r}, which has {self.number_of_frames}."
                )
        if any(o.object_hash == instance.object_hash for o in self.object_instances):
            raise LabelError(f"object {instance.object_hash} is already in this label row.")
        self.object_instances.append(instance)

    def remove_object(self, instance: ObjectInstance) -> None:
        self.object_instances = [o for o in self.object_instances if o.object_hash != instance.object_hash]

    def add_classification_instance(self, instance: ClassificationInstance) -> None:
        for frame in instance.frames:
            if frame >= self.number_of_frames:
                raise LabelError(
                    f"frame {frame} is beyond {self.data_title!r}, which has {self.number_of_frames}."
                )
        self.classification_instances.append(instance)

    def remove_classification(self, instance: ClassificationInstance) -> None:
        self.classification_instances = [
            c for c in self.classification_instances if c.classification_hash != instance.classification_hash
        ]

    def save(self) -> None:
        """Write the row back to the store it came from, in one transaction."""
        if self._saver is None:
            raise LabelError("this label row is not attached to a project; it cannot be saved.")
        self._saver(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, pixel coordinates."""
        return {
            "label_hash": self.label_hash,
            "data_hash": self.data_hash,
            "data_title": self.data_title,
            "data_type": self.data_type,
            "branch_name": self.branch_name,
            "objects": [
                {
                    "object_hash": o.object_hash,
                    "feature_hash": o.feature_hash,
                    "title": o.ontology_item.title,
                    "shape": o.ontology_item.shape.value,
                    "answers": o.answers,
                    "frames": [
                        {
                            "frame": f.frame,
                            "coordinates": f.coordinates.to_json(),
                            "confidence": f.confidence,
                            "manual_annotation": f.manual_annotation,
                            "created_by": f.created_by,
                            "created_at": f.created_at,
                        }
                        for f in o.get_annotations()
                    ],
                }
                for o in self.object_instances
            ],
            "classifications": [
                {
                    "classification_hash": c.classification_hash,
                    "feature_hash": c.feature_hash,
                    "title": c.ontology_item.title,
                    "frames": sorted(c.frames),
                    "answer": c.answer,
                }
                for c in self.classification_instances
            ],
        }
