"""The COCO file as typed msgspec Structs: one pass decodes it, keeping each record's original bytes.

These mirror the JSON; they are not the domain model. :class:`Document` keeps each record of the
three lists as its original bytes. The record Structs (:class:`Image`, :class:`Category`,
:class:`Annotation`) type their fields loosely (``Any``) on purpose: validation
(:mod:`labelport.formats.coco.validate`) checks every value and reports a JSON path, rather than
stopping at the first bad one as a strict decoder would; an annotation's ``segmentation`` stays
``msgspec.Raw`` until something needs its numbers. :class:`CleanAnnotation` is the one strict Struct:
the import's fast path decodes a whole slice into it, or falls back to the loose path.

>>> document_decoder.decode(b'{"images": [{"id": 1}], "annotations": []}').categories is MISSING
True
"""

from __future__ import annotations

from typing import Any

import msgspec

#: Marks a field that is absent from the JSON (as opposed to ``null``).
MISSING: Any = msgspec.UNSET


class Document(msgspec.Struct):
    """The top level of an instances or person_keypoints file, in one scan: each record of the three
    lists stays raw (its original bytes), as do ``info`` and ``licenses``."""

    images: list[msgspec.Raw] | msgspec.UnsetType = MISSING
    annotations: list[msgspec.Raw] | msgspec.UnsetType = MISSING
    categories: list[msgspec.Raw] | msgspec.UnsetType = MISSING
    info: msgspec.Raw = msgspec.Raw(b"")
    licenses: msgspec.Raw = msgspec.Raw(b"")


class Sections(msgspec.Struct):
    """The three lists of a document, each as its raw bytes whatever they hold: what a document that
    failed to decode is read as, to name the section that is not a list."""

    images: msgspec.Raw = msgspec.Raw(b"")
    annotations: msgspec.Raw = msgspec.Raw(b"")
    categories: msgspec.Raw = msgspec.Raw(b"")


class Image(msgspec.Struct):
    id: Any = MISSING
    file_name: Any = MISSING
    width: Any = MISSING
    height: Any = MISSING
    image_title: Any = MISSING
    video_title: Any = MISSING
    data_title: Any = MISSING
    data_type: Any = MISSING
    frame: Any = MISSING

    def fields(self) -> dict[str, Any]:
        """The fields present, as a small dict (what matching reads)."""
        return {f: v for f in self.__struct_fields__ if (v := getattr(self, f)) is not MISSING}


class Category(msgspec.Struct):
    id: Any = MISSING
    name: Any = MISSING
    supercategory: Any = MISSING
    keypoints: Any = MISSING
    skeleton: Any = MISSING


class Annotation(msgspec.Struct):
    id: Any = MISSING
    image_id: Any = MISSING
    category_id: Any = MISSING
    bbox: Any = MISSING
    segmentation: msgspec.Raw = msgspec.Raw(b"")
    keypoints: Any = MISSING
    area: Any = MISSING
    iscrowd: Any = MISSING
    score: Any = MISSING
    track_id: Any = MISSING
    attributes: Any = MISSING


class CleanAnnotation(msgspec.Struct):
    """An annotation as clean ground truth writes it, typed strictly for the import's fast path.

    A slice decodes into these only when every annotation fits (whole-number ids, a 4-number bbox);
    the segmentation stays JSON, for :mod:`~labelport.formats.coco.flat_polygons` to read every
    polygon of the slice at once. Any misfit sends the slice to the exact, per-annotation path. JSON has no NaN
    or infinity and msgspec refuses numbers beyond float range, so every float here is finite.
    """

    id: int
    image_id: int | str
    category_id: int | str
    bbox: tuple[float, float, float, float]
    segmentation: msgspec.Raw = msgspec.Raw(b"null")  # read by the fast path's rings, not as lists
    keypoints: list[float] | None = None
    area: float | None = None
    iscrowd: int = 0
    score: Any = MISSING
    track_id: Any = MISSING
    attributes: Any = MISSING


#: What decoding one record may raise: not JSON (or not of the type), bytes that are not UTF-8
#: (msgspec checks them only when it builds a string), nesting deeper than Python's stack.
RECORD_ERRORS = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)

raw_list = msgspec.json.Decoder(list[msgspec.Raw])
clean_annotations_decoder = msgspec.json.Decoder(list[CleanAnnotation])
images_decoder = msgspec.json.Decoder(list[Image])
categories_decoder = msgspec.json.Decoder(list[Category])
annotations_decoder = msgspec.json.Decoder(list[Annotation])
#: One record at a time, after a slice failed to decode: numbers out of float range (``1e999``)
#: decode to infinity here, so that validation names the field instead of rejecting the record.
annotation_decoder = msgspec.json.Decoder(Annotation, float_hook=float)
document_decoder = msgspec.json.Decoder(Document)
sections_decoder = msgspec.json.Decoder(Sections)
any_decoder = msgspec.json.Decoder()
encoder = msgspec.json.Encoder()
