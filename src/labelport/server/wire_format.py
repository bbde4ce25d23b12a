"""The team server's wire format: JSON through msgspec, shared by the server and the remote client.

Records travel as they are: dataclasses as objects, record tuples (ObjectRecord,
ClassificationRecord) as arrays, ``bytes`` fields as base64, ontologies in their JSON form. Request
bodies are small typed Structs, decoded in one pass; a body that does not fit is a 400.

>>> from labelport.store.base import UserRecord
>>> decode(encode(UserRecord(1, "ada", "SHA256:x", False)), UserRecord)
UserRecord(id=1, name='ada', fingerprint='SHA256:x', is_admin=False)
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any, TypeVar

import msgspec

from labelport.data import DataUnit
from labelport.errors import FieldError, LabelportError
from labelport.ontology import OntologyStructure
from labelport.store.base import ClassificationRecord, ObjectRecord, ProjectRecord, UnitQuery

#: What a client accepts to be told an import's progress as it goes, one JSON line at a time; an
#: import asked without it answers plainly, with the report or the error and its status.
PROGRESS_LINES = "application/x-ndjson"
#: The header of a streamed export that gives the file's size (the response may be compressed).
SIZE_HEADER = "X-Labelport-Bytes"

T = TypeVar("T")


def _enc_hook(value: Any) -> Any:
    if isinstance(value, OntologyStructure):
        return value.to_dict()
    raise NotImplementedError(f"cannot send a {type(value).__name__} to the server.")


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)


def encode(value: Any) -> bytes:
    """JSON bytes of a record, a list of them or plain data."""
    return _encoder.encode(value)


def decode(data: bytes, type_: type[T]) -> T:
    """Decode JSON into ``type_``; a :class:`LabelportError` (400) says where it does not fit."""
    try:
        return msgspec.json.decode(data, type=type_)
    except msgspec.ValidationError as exc:
        raise LabelportError(f"the request body does not fit: {exc}.") from None
    except msgspec.DecodeError as exc:
        raise LabelportError(f"the request body is not JSON: {exc}.") from None
    except RecursionError:
        raise LabelportError("the request body is nested deeper than the server reads.") from None
    except UnicodeDecodeError:
        raise LabelportError("the request body is not UTF-8 text.") from None


# -- bodies ----------------------------------------------------------------------------------------


class OntologyWire(msgspec.Struct):
    ontology_hash: str
    title: str
    structure: dict[str, Any]


class CreateOntology(msgspec.Struct):
    title: str
    structure: dict[str, Any]


class CreateProject(msgspec.Struct):
    title: str
    description: str = ""
    ontology_hash: str | None = None
    structure: dict[str, Any] | None = None


class ProjectWire(msgspec.Struct):
    project: ProjectRecord
    structure: dict[str, Any]


class AddMember(msgspec.Struct):
    fingerprint: str
    role: str


class AddDataUnits(msgspec.Struct):
    units: list[DataUnit]


class LoadLabelRows(msgspec.Struct):
    branch: str
    data_hashes: list[str] | None = None


class FindDataUnits(msgspec.Struct):
    query: UnitQuery
    limit: int = 48
    offset: int = 0


class GetDataUnits(msgspec.Struct):
    data_hashes: list[str]


class SaveLabelRow(msgspec.Struct):
    branch: str
    data_hash: str
    objects: list[ObjectRecord]
    classifications: list[ClassificationRecord]


class LabelHash(msgspec.Struct):
    label_hash: str


class Created(msgspec.Struct):
    hash: str


class StartUpload(msgspec.Struct):
    #: the file's name for a file (the import names its source after it); None for in-memory data
    filename: str | None = None


class Upload(msgspec.Struct):
    upload_id: str


class RunImport(msgspec.Struct):
    chunks: int
    options: dict[str, Any] = msgspec.field(default_factory=dict)
    #: the source's bytes before the client compressed them, when it did: the server then inflates
    #: the chunks once, straight into the file, refusing them as soon as they pass this; without it
    #: (a source that came compressed), once to count them and once more to write them
    size: int | None = None


class RunExport(msgspec.Struct):
    options: dict[str, Any] = msgspec.field(default_factory=dict)


class RunEvaluation(msgspec.Struct):
    pred_branch: str
    options: dict[str, Any] = msgspec.field(default_factory=dict)


class StoredEvaluation(msgspec.Struct):
    pred_branch: str
    gt_branch: str = "main"
    iou_type: str = "bbox"


class RunDiff(msgspec.Struct):
    a: str
    b: str
    iou: float = 0.5


# -- import options --------------------------------------------------------------------------------


def import_options_to_wire(options: dict[str, Any]) -> dict[str, Any]:
    """Import options as JSON can carry them: ``match`` and ``categories`` dicts become lists of pairs.

    COCO ids are ints, and JSON object keys are strings; pairs keep each key's type.

    A mapping given as a file's name is read here, on the client: the server reads no file of its own
    for a request.

    >>> import_options_to_wire({"match": {7: ("data-hash", 0)}, "categories": {1: "feat"}, "dry_run": True})
    {'match': [[7, ['data-hash', 0]]], 'categories': [[1, 'feat']], 'dry_run': True}
    """
    from labelport.formats.coco.match import load_mapping

    wire = dict(options)
    for key, words in _MAPPING_WORDS.items():
        if isinstance(wire.get(key), (str, PurePath)) and wire[key] not in words:
            wire[key] = load_mapping(wire[key], "image" if key == "match" else "category")
    match = wire.get("match")
    if isinstance(match, dict):
        wire["match"] = [[key, _frame_index(value)] for key, value in match.items()]
    categories = wire.get("categories")
    if isinstance(categories, dict):
        wire["categories"] = [[key, value] for key, value in categories.items()]
    return wire


def import_options_from_wire(wire: dict[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`import_options_to_wire`. A ``match`` or ``categories`` that is a text
    must be one of its words: a file name would be a file of the server's.

    >>> import_options_from_wire({"match": [[7, ["data-hash", 0]]], "categories": [[1, "feat"]]})
    {'match': {7: ('data-hash', 0)}, 'categories': {1: 'feat'}}
    """
    options = dict(wire)
    for key, words in _MAPPING_WORDS.items():
        if isinstance(options.get(key), str) and options[key] not in words:
            raise FieldError(
                f"options.{key}",
                f"is {' or '.join(map(repr, words))} or a list of [key, value] pairs, not {options[key]!r}",
            )
    try:
        if isinstance(options.get("match"), list):
            options["match"] = {key: (str(value[0]), int(value[1])) for key, value in options["match"]}
        if isinstance(options.get("categories"), list):
            options["categories"] = {key: value for key, value in options["categories"]}
    except (TypeError, ValueError, IndexError):
        raise LabelportError("match and categories must be lists of [key, value] pairs.") from None
    return options


#: the words ``match`` and ``categories`` take besides a mapping
_MAPPING_WORDS = {"match": ("auto",), "categories": ("by-name", "create")}


def _frame_index(value: Any) -> list[Any]:
    """(data_hash, frame), a FrameIndex or anything with ``data_hash`` and ``frame``."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return [value[0], value[1]]
    if hasattr(value, "data_hash"):
        return [value.data_hash, getattr(value, "frame", 0)]
    raise LabelportError(f"a match value must be (data_hash, frame), not {value!r}.")


# -- everyday operations ---------------------------------------------------------------------------


class UpdateProject(msgspec.Struct):
    title: str | None = None
    description: str | None = None


class DataHashes(msgspec.Struct):
    data_hashes: list[str]


class Fingerprint(msgspec.Struct):
    fingerprint: str


class Branch(msgspec.Struct):
    branch: str


class DeleteLabels(msgspec.Struct):
    branch: str
    data_hash: str


class CopyBranch(msgspec.Struct):
    source: str
    target: str
    replace: bool = False
