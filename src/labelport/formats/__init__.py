"""The formats labelport reads and writes: one explicit table, :data:`FORMATS`.

Each entry is a :class:`~labelport.formats.base.Format`: ``read`` a source into the neutral,
COCO-shaped dataset that the COCO import pipeline matches, validates and writes; ``write`` the COCO
export of a project into the format's files, reporting every loss; ``sniff`` a path. Adding a format
is one module under ``formats/`` and one line here.

>>> sorted(FORMATS)
['coco', 'cvat', 'labelstudio', 'voc', 'yolo']
>>> get_format("yolo").folder
True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labelport.errors import FormatError, LabelportError
from labelport.formats import cvat, labelstudio, voc, yolo
from labelport.formats.base import Dataset, ExportReport, Format


def _read_coco(source: Any, *, on_error: str = "fail", sizes: Any = None, confined: bool = False) -> Dataset:
    """A COCO file as the neutral dataset (what ``convert`` reads; an import reads COCO itself)."""
    import msgspec

    from labelport.formats.coco.read import source_buffer

    data, name = source_buffer(source)  # gzip inflated under the cap, a BOM or UTF-16/32 read
    try:
        doc = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise FormatError("coco_json", f"is not valid JSON ({exc}).", file=name) from None
    except RecursionError:
        raise FormatError("coco_json", "nests arrays or objects too deeply to read.", file=name) from None
    if not isinstance(doc, dict):
        raise FormatError("coco_json", "must hold a COCO object.", file=name, path="$")
    dataset = Dataset(name=name)
    dataset.images, dataset.categories = list(doc.get("images", [])), list(doc.get("categories", []))
    dataset.annotations = list(doc.get("annotations", []))
    return dataset


def _write_coco(coco: dict[str, Any], dest: str | Path) -> ExportReport:
    import msgspec

    out = Path(dest).expanduser()
    out.write_bytes(msgspec.json.encode(coco))
    return ExportReport(
        format="coco",
        path=str(out),
        images=len(coco.get("images", [])),
        objects=len(coco.get("annotations", [])),
        files=1,
    )


def _sniff_coco(path: Path) -> bool:
    if not path.is_file() or not path.name.endswith((".json", ".json.gz")):
        return False
    with path.open("rb") as handle:
        head = handle.read(4096)
    return b'"images"' in head or b'"annotations"' in head or b'"categories"' in head


COCO = Format(
    "coco",
    "COCO: one JSON file (instances, keypoints or a results list)",
    _read_coco,
    _write_coco,
    _sniff_coco,
)

#: Every format, by the name each face uses (``format="yolo"``, ``labelport import yolo``).
FORMATS: dict[str, Format] = {
    "coco": COCO,
    "yolo": yolo.FORMAT,
    "voc": voc.FORMAT,
    "cvat": cvat.FORMAT,
    "labelstudio": labelstudio.FORMAT,
}


def get_format(name: str) -> Format:
    """The format called ``name``; a :class:`LabelportError` naming the known ones otherwise."""
    found = FORMATS.get(name)
    if found is None:
        raise LabelportError(f"unknown format {name!r}; labelport knows {', '.join(FORMATS)}.")
    return found


def guess_format(path: str | Path) -> str:
    """The name of the format a file or folder looks like (COCO is tried last: Label Studio is JSON too).

    >>> guess_format("/no/such/file")
    Traceback (most recent call last):
    ...
    labelport.errors.FormatError: /no/such/file: does not exist.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise FormatError("format_guess", "does not exist.", file=str(p))
    for name in sorted(FORMATS, key=lambda n: n == "coco"):  # the table's order, COCO last
        if FORMATS[name].sniff(p):
            return name
    raise FormatError(
        "format_guess", f"looks like none of {', '.join(FORMATS)}; name the format.", file=str(p)
    )


__all__ = ["FORMATS", "Dataset", "ExportReport", "Format", "get_format", "guess_format"]
