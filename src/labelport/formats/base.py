"""What every format module shares: the :class:`Format` record, the neutral dataset, problems and losses.

A format knows its files and nothing of stores or HTTP. ``read`` turns a source into a neutral,
COCO-shaped :class:`Dataset` (which the COCO import pipeline then matches, validates and writes);
``write`` turns a COCO-shaped dict (what the COCO export gives) into the format's files and returns
an :class:`ExportReport` naming every loss by kind and count.

>>> data = Dataset()
>>> cat = data.category("cat")
>>> image = data.image("a.jpg", 640, 480)
>>> data.annotation(image, cat, bbox=[1, 2, 3, 4])["id"], data.category("cat")
(1, 1)
>>> sorted(data.to_coco())
['annotations', 'categories', 'images']

Each record may carry the place in the source it was read from (a :class:`Place`, kept beside the
record, never in it); :meth:`Dataset.locate` turns the COCO import's paths back into those places:

>>> data.annotation(image, cat, bbox=[0, 0, 1, 1], place=Place("a.txt", line=2))["id"]
2
>>> data.locate("annotations[1].bbox"), data.locate("annotations[0].bbox")
('a.txt line 2', 'annotations[0].bbox')
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, overload

import msgspec

from labelport.errors import FormatError
from labelport.formats.subsets import names_a_folder, names_within_subsets
from labelport.formats.subsets import subset_of as subset_of
from labelport.imports.policy import ErrorPolicy
from labelport.imports.policy import Problem as Problem
from labelport.limits import MAX_LABEL_FILE_BYTES, MAX_LINE_BYTES
from labelport.plural import plural

#: How a reader finds an image's (title, width, height) when the image file is absent: by file name
#: (the project's data units, in an import).
Sizes = Callable[[str], "tuple[str, int, int] | None"]


@dataclass(frozen=True, slots=True)
class Place:
    """Where in the source a record was read: a file, its 1-based line, an element or JSON path.

    ``fields`` maps a COCO field of the record to the source's own place for it, a suffix of
    ``path`` (a Label Studio box's ``bbox`` is its result's ``.value``; a VOC image's ``width`` is
    ``/size/width``).

    >>> Place("a.xml", 4, "/annotation", {"width": "/size/width"}).where("width")
    'a.xml line 4 /annotation/size/width'
    """

    file: str
    line: int | None = None
    path: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)

    def where(self, coco_field: str | None = None) -> str:
        """``file line N path``: the place of the record, or of one of its COCO fields."""
        path = self.path
        suffix = self.fields.get(coco_field) if coco_field is not None else None
        if suffix is not None:
            path = (path or "") + suffix
        return " ".join(p for p in (self.file, None if self.line is None else f"line {self.line}", path) if p)


#: a COCO import's path into the records a reader made: ``annotations[3].bbox[2]``
_RECORD_PATH = re.compile(r"(images|annotations|categories)\[(\d+)\](?:\.(\w+))?")


@dataclass
class Dataset:
    """The neutral dataset: COCO-shaped images, categories and annotations, with deterministic ids.

    Ids count from 1 in the order things are added; readers add in a sorted, stable order, so reading
    the same files twice gives the same ids and a re-import updates instead of duplicating.
    """

    images: list[dict[str, Any]] = field(default_factory=list)
    categories: list[dict[str, Any]] = field(default_factory=list)
    annotations: list[dict[str, Any]] = field(default_factory=list)
    #: what the reader skipped under ``on_error="skip"``
    problems: list[Problem] = field(default_factory=list)
    #: what the reader read but no COCO record can carry, by kind (CVAT tags...): warnings in the report
    dropped: dict[str, int] = field(default_factory=dict)
    #: a name for the source (a file or folder name), the import's source name
    name: str = ""
    #: the branch the labels belong on when the import names none (Label Studio's predictions)
    branch: str | None = None
    #: files a local import read outside the dataset's folder (the paths it names lead there)
    outside: list[str] = field(default_factory=list)
    #: section -> where each record of ``images``, ``annotations`` or ``categories`` was read, by its
    #: index (None: not known); see :meth:`locate`
    places: dict[str, list[Place | None]] = field(default_factory=dict)
    _category_ids: dict[str, int] = field(default_factory=dict)

    def category(self, name: str, *, place: Place | None = None, **extra: Any) -> int:
        """The id of the category called ``name``, added on first use (at ``place``)."""
        found = self._category_ids.get(name)
        if found is None:
            found = self._category_ids[name] = len(self.categories) + 1
            self._place("categories", len(self.categories), place)
            self.categories.append({"id": found, "name": name, "supercategory": "", **extra})
        elif extra:
            self.categories[found - 1].update(extra)
        return found

    def image(
        self,
        file_name: str,
        width: int,
        height: int,
        *,
        place: Place | None = None,
        ident: int | None = None,
        **extra: Any,
    ) -> int:
        """Add an image (its id ``ident``, else the next one) read at ``place``; its id."""
        image_id = len(self.images) + 1 if ident is None else ident
        self._place("images", len(self.images), place)
        self.images.append(
            {"id": image_id, "file_name": file_name, "width": width, "height": height, **extra}
        )
        return image_id

    def annotation(
        self, image_id: int, category_id: int, *, place: Place | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Add an annotation read at ``place``; the record."""
        ann = {"id": len(self.annotations) + 1, "image_id": image_id, "category_id": category_id, **fields}
        ann.setdefault("iscrowd", 0)
        self._place("annotations", len(self.annotations), place)
        self.annotations.append(ann)
        return ann

    def _place(self, section: str, index: int, place: Place | None) -> None:
        if place is not None:
            placed = self.places.setdefault(section, [])
            placed.extend([None] * (index - len(placed)))
            placed.append(place)

    def locate(self, path: str) -> str:
        """The source place of a COCO path into these records (``annotations[3].bbox`` -> ``a.txt line 4``);
        the path itself when it names no record read at a known place."""
        found = _RECORD_PATH.match(path)
        if found is None:
            return path
        placed, index = self.places.get(found[1], []), int(found[2])
        place = placed[index] if index < len(placed) else None
        return path if place is None else place.where(found[3])

    def to_coco(self) -> dict[str, Any]:
        """The COCO dict the import pipeline reads."""
        return {"images": self.images, "categories": self.categories, "annotations": self.annotations}


class _Export(msgspec.Struct):
    images: list[dict[str, Any]] = msgspec.field(default_factory=list)
    categories: list[dict[str, Any]] = msgspec.field(default_factory=list)
    annotations: list[msgspec.Raw] = msgspec.field(default_factory=list)
    info: Any = None
    licenses: Any = None


class Records(Sequence[dict[str, Any]]):
    """Annotations kept as their JSON bytes and decoded one at a time as a writer walks them.

    A train-scale export holds some 860,000 annotations; as dicts (polygons as lists of floats) they
    would take gigabytes, as slices of the export's bytes a few hundred megabytes.
    """

    def __init__(self, raws: list[msgspec.Raw]) -> None:
        self._raws = raws

    def __len__(self) -> int:
        return len(self._raws)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [_record(raw) for raw in self._raws[index]]
        return _record(self._raws[index])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (_record(raw) for raw in self._raws)


_record_decoder = msgspec.json.Decoder(dict[str, Any])


def _record(raw: msgspec.Raw) -> dict[str, Any]:
    return _record_decoder.decode(raw)


def coco_for_writer(data: bytes) -> dict[str, Any]:
    """The COCO export's bytes as a writer reads them: images and categories as dicts, annotations as
    :class:`Records` (decoded as they are walked).

    >>> coco = coco_for_writer(b'{"images": [], "categories": [], "annotations": [{"id": 1}]}')
    >>> len(coco["annotations"]), next(iter(coco["annotations"]))
    (1, {'id': 1})
    """
    doc = msgspec.json.decode(data, type=_Export)
    coco: dict[str, Any] = {
        "images": names_within_subsets(doc.images),
        "categories": doc.categories,
        "annotations": Records(doc.annotations),
    }
    if doc.info is not None:
        coco["info"] = doc.info
    return coco


class ExportReport(msgspec.Struct, kw_only=True):
    """What an export wrote and, by kind and count, everything the target format could not carry."""

    format: str
    path: str
    images: int = 0
    objects: int = 0
    files: int = 0
    #: kind -> how many (``"attributes"``: 12, ``"polygon->bounding_box"``: 3 ...); never silent
    losses: dict[str, int] = msgspec.field(default_factory=dict)
    #: class name -> id in the output, for formats that number classes (YOLO)
    classes: dict[str, int] = msgspec.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)  # type: ignore[no-any-return]

    def summary(self) -> str:
        """A few lines for a terminal.

        >>> print(ExportReport(format="yolo", path="out", images=2, objects=3, losses={"attributes": 1}).summary())
        Wrote out (yolo): 2 images, 3 objects, 0 files.
        not carried by yolo: attributes 1.
        """
        lines = [
            f"Wrote {self.path} ({self.format}): {plural(self.images, 'image')}, {plural(self.objects, 'object')}, {plural(self.files, 'file')}."
        ]
        if self.classes:
            lines.append(
                "class ids: "
                + ", ".join(f"{i} {n}" for n, i in sorted(self.classes.items(), key=lambda c: c[1]))
                + "."
            )
        if self.losses:
            lines.append(
                f"not carried by {self.format}: "
                + ", ".join(f"{k} {v:,}" for k, v in sorted(self.losses.items()))
                + "."
            )
        return "\n".join(lines)


class Losses(Counter[str]):
    """Counts what a writer could not carry, by kind."""

    def add(self, kind: str, count: int = 1) -> None:
        self[kind] += count


@dataclass(frozen=True)
class Format:
    """One format of the table in :mod:`labelport.formats`.

    ``read(source, *, on_error="fail", sizes=None, **options) -> Dataset``; a folder format's reader also
    takes ``confined=False`` (a server's reader, which never reads a file outside the source's folder;
    see :mod:`labelport.formats.reach`),
    ``write(coco, dest, **options) -> ExportReport``, ``sniff(path) -> bool``.
    ``folder`` says whether the format is a folder (YOLO, VOC) rather than one file.
    """

    name: str
    description: str
    read: Callable[..., Dataset]
    write: Callable[..., ExportReport]
    sniff: Callable[[Path], bool]
    folder: bool = False


#: What a reader is given by the import that calls it, never an option of its own.
READER_ARGUMENTS = ("source", "on_error", "sizes", "confined")


def options_taken(function: Callable[..., Any], given: Sequence[str] = ()) -> list[str]:
    """The keyword-only options a format's ``read`` or ``write`` takes, less those in ``given``.

    >>> def read(source, *, on_error="fail", sizes=None, task=None): ...
    >>> options_taken(read, READER_ARGUMENTS)
    ['task']
    """
    import inspect

    parameters = inspect.signature(function).parameters
    return [n for n, p in parameters.items() if p.kind is p.KEYWORD_ONLY and n not in given]


# -- helpers the format modules share ------------------------------------------------------------------


def write_bytes(path: Path, data: bytes) -> None:
    """Write a small file with one system call each for open, write and close.

    Python's ``open`` builds a buffered text layer around every file; for the tens of thousands of
    label files a YOLO export writes that costs more than the writing.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def read_bytes(path: Path) -> bytes:
    """Read a small file whole, without Python's buffered layer (see :func:`write_bytes`)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def unwritable(dest: Path, exc: OSError) -> FormatError:
    """The :class:`FormatError` (``dest_unwritable``) for an output ``dest`` that could not be written,
    naming the file inside it that failed, when one did.

    >>> str(unwritable(Path("out"), FileNotFoundError(2, "No such file or directory", "out/labels/a.txt")))
    'out: cannot be written: No such file or directory (labels/a.txt).'
    """
    inside = ""
    if exc.filename:
        failed = Path(str(exc.filename))
        if failed != dest and failed.is_relative_to(dest):
            inside = f" ({failed.relative_to(dest)})"
    return FormatError(
        "dest_unwritable", f"cannot be written: {exc.strerror or exc}{inside}.", file=str(dest)
    )


def read_lines(path: Path, code: str, what: str) -> list[str]:
    """A small text file's lines (a split list, ``images.meta``), read whole by :func:`capped_bytes`:
    a :class:`FormatError` (``code``, with the line) when it is not UTF-8. Label files, which may be
    large, are read a line at a time by :func:`text_lines`."""
    data = capped_bytes(path, what)
    try:
        return data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FormatError(
            code, "is not UTF-8 text: a byte cannot be decoded.", file=str(path), line=line
        ) from None


def capped_bytes(path: Path, what: str, limit: int = MAX_LABEL_FILE_BYTES, *, why: str = "") -> bytes:
    """A file read whole, when it is at most ``limit`` bytes; else a :class:`FormatError`
    (``file_size``, ``why`` said after the limit) naming it, before anything is read. A pipe, whose
    size cannot be looked at first, is read one byte past the limit at the most."""
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            data = b"" if size > limit else handle.read(limit + 1)
    except FileNotFoundError:
        raise FormatError("file_missing", "no such file.", file=str(path)) from None
    except IsADirectoryError:
        raise FormatError("file_missing", "is a folder, not a file.", file=str(path)) from None
    except OSError as exc:
        raise FormatError(
            "file_unreadable", f"cannot be read ({exc.strerror or exc}).", file=str(path)
        ) from None
    if size > limit or len(data) > limit:
        raise FormatError(
            "file_size",
            f"is {plural(size, 'byte') if size > limit else 'over the limit'}; {what} is at most "
            f"{limit >> 20} MiB{why}.",
            file=str(path),
        )
    return data


def text_lines(
    path: Path, what: str, code: str, policy: ErrorPolicy, *, line_bytes: int = MAX_LINE_BYTES
) -> Iterator[tuple[int, str]]:
    """The lines of a text file, numbered from 1, read a line at a time: a file over
    :data:`~labelport.limits.MAX_LABEL_FILE_BYTES`, a line over ``line_bytes`` or a line that is not
    UTF-8 is one problem (``code``) naming the file and line, and nothing of it is held whole."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        policy.problem(code, str(path), f"cannot be read ({exc.strerror or exc}).")
        return
    with handle:
        size = os.fstat(handle.fileno()).st_size
        if size > MAX_LABEL_FILE_BYTES:
            policy.problem(
                "file_size",
                str(path),
                f"is {plural(size, 'byte')}; {what} is at most {MAX_LABEL_FILE_BYTES >> 20} MiB.",
            )
            return
        number = 0
        while raw := handle.readline(line_bytes + 1):
            if len(raw) > line_bytes:
                number += 1
                policy.problem(
                    code,
                    str(path),
                    f"a line is at most {line_bytes >> 20} MiB; this one is longer.",
                    line=number,
                )
                while raw and not raw.endswith(b"\n"):  # the rest of the line, a piece at a time
                    raw = handle.readline(line_bytes)
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                number += 1
                policy.problem(
                    code, str(path), f"holds bytes that are not UTF-8 ({exc.reason}).", line=number
                )
                continue
            for line in text.splitlines():  # (as str.splitlines numbers them: a lone \r ends one too)
                number += 1
                yield number, line


def image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from an image file's header (nothing is decoded); None when it is no image."""
    from PIL import UnidentifiedImageError

    from labelport.pixels import header_size

    try:
        return header_size(path)
    except (OSError, UnidentifiedImageError, ValueError):
        return None


def sizes_from(table: Mapping[str, tuple[int, int]] | Callable[[], Mapping[str, tuple[int, int]]]) -> Sizes:
    """A :data:`Sizes` lookup over {title: (w, h)}: the file name, then its base name, then its stem.
    ``table`` may be a function that makes it, called on the first look-up only (most reads need none).

    >>> sizes_from({"cat.png": (4, 3)})("images/train/cat.jpg")
    ('cat.png', 4, 3)
    """
    index: list[tuple[dict[str, tuple[str, int, int]], ...]] = []

    def build() -> tuple[dict[str, tuple[str, int, int]], ...]:
        given = table() if callable(table) else table
        exact = {title: (title, *size) for title, size in given.items()}
        by_base: dict[str, tuple[str, int, int]] = {}
        by_stem: dict[str, tuple[str, int, int] | None] = {}
        for title, found in exact.items():
            base = title.rsplit("/", 1)[-1]
            by_base.setdefault(base, found)
            stem = base.rsplit(".", 1)[0]
            by_stem[stem] = found if stem not in by_stem else None  # two with one stem: ambiguous
        return exact, by_base, {k: v for k, v in by_stem.items() if v is not None}

    def lookup(name: str) -> tuple[str, int, int] | None:
        if not index:
            index.append(build())
        exact, by_base, by_stem = index[0]
        base = name.replace("\\", "/").rsplit("/", 1)[-1]
        return exact.get(name) or by_base.get(base) or by_stem.get(base.rsplit(".", 1)[0])

    return lookup


def kept(ann: Mapping[str, Any], key: str) -> dict[str, Any]:
    """A format's own fields kept in a record (``ann["cvat"]``, ``ann["voc"]``), or {}."""
    value = ann.get(key)
    return value if isinstance(value, dict) else {}


def is_polyline(ann: Mapping[str, Any]) -> bool:
    """Whether a segmentation is an open line: ``attributes.polyline`` (labelport's COCO) or a CVAT polyline."""
    attributes = ann.get("attributes")
    marked = isinstance(attributes, dict) and attributes.get("polyline") is True
    return marked or kept(ann, "cvat").get("type") == "polyline"


def rotation_of(ann: Mapping[str, Any]) -> float:
    """An annotation's rotation in degrees (``attributes.rotation``, as CVAT writes), 0 when none."""
    attributes = ann.get("attributes")
    if isinstance(attributes, dict):
        value = attributes.get("rotation", 0)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return 0.0


def plain_attributes(ann: Mapping[str, Any]) -> dict[str, Any]:
    """An annotation's attributes without the ones labelport itself uses for geometry."""
    attributes = ann.get("attributes")
    if not isinstance(attributes, dict):
        return {}
    return {k: v for k, v in attributes.items() if k not in ("rotation", "polyline")}


def number(value: float) -> int | float:
    """A coordinate as a file gives it: whole numbers as ints (so they round-trip as they came)."""
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else value


#: How far from the image's origin a pixel coordinate may lie: the largest image side labelport takes
#: (COCO's ``image_size`` rule). A number beyond it (VOC's ``<xmax>1e300</xmax>``) is no coordinate.
COORDINATE_LIMIT = 2**31 - 1


def far_coordinate(values: Mapping[str, float]) -> str | None:
    """A sentence about the first of the named pixel coordinates beyond :data:`COORDINATE_LIMIT`, or None.

    >>> far_coordinate({"xmin": 1, "xmax": 1e300})
    'xmax is 1e+300, not a pixel coordinate: coordinates lie within ±2,147,483,647, the largest image side.'
    """
    for name, value in values.items():
        if not abs(value) <= COORDINATE_LIMIT:  # (NaN too)
            return (
                f"{name} is {value:g}, not a pixel coordinate: coordinates lie within "
                f"±{COORDINATE_LIMIT:,}, the largest image side."
            )
    return None


def subset_folder(subset: str, fmt: str) -> str:
    """``subset`` as the one folder name a layout gives it; a :class:`FormatError` when it cannot be one.

    >>> subset_folder("../x", "yolo")
    Traceback (most recent call last):
    ...
    labelport.errors.FormatError: the subset '../x' cannot name a folder: a subset is a name of up to 255 bytes without '/', '\\' or NUL, and not '.' or '..'.
    """
    from labelport.errors import FormatError

    if not names_a_folder(subset):
        raise FormatError(
            f"{fmt}_subset",
            f"the subset {subset!r} cannot name a folder: a subset is a name of up to 255 bytes without "
            "'/', '\\' or NUL, and not '.' or '..'.",
        )
    return subset


def inside_name(file_name: str) -> PurePosixPath:
    """An image's file name as a path inside an export's folder: ``\\`` as ``/``, and no root, ``.`` or
    ``..`` (an absolute file name, a COCO file's ``/data/a.jpg``, is written under the folder; a title
    such as ``../../x.jpg`` can name no file outside it).

    >>> inside_name("/data/a.jpg"), inside_name("..\\\\..\\\\x.jpg"), inside_name("train/./b.png")
    (PurePosixPath('data/a.jpg'), PurePosixPath('x.jpg'), PurePosixPath('train/b.png'))
    """
    parts = [p for p in PurePosixPath(file_name.replace("\\", "/")).parts if p not in ("/", ".", "..")]
    return PurePosixPath(*parts) if parts else PurePosixPath("_")
