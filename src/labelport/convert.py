"""Labels from one format of the table to another, with no project (what ``datum convert`` does):
:func:`convert_labels`, through a temporary embedded store.

>>> Conversion("yolo", "cvat", ["to"], None, None).to_format
'cvat'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labelport.client import UserClient
from labelport.errors import LabelportError
from labelport.service import LocalService

__all__ = ["Conversion", "convert_labels"]


@dataclass
class Conversion:
    """What :func:`convert_labels` did: the formats (and whether each was guessed), and both reports."""

    from_format: str
    to_format: str
    guessed: list[str]
    import_report: Any
    export_report: Any

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.from_format,
            "to": self.to_format,
            "guessed": self.guessed,
            "import": self.import_report.to_dict(),
            "export": self.export_report.to_dict(),
        }

    def summary(self) -> str:
        return f"{self.import_report.summary()}\n{self.export_report.summary()}"


def convert_labels(
    source: str | Path,
    dest: str | Path,
    *,
    from_format: str | None = None,
    to_format: str | None = None,
    on_error: str = "fail",
    **write_options: Any,
) -> Conversion:
    """Convert labels between two formats of the table (what ``datum convert`` does), with no project:
    through a temporary embedded store, so the import's validation and report and the export's loss
    count are the same as in a project. A format not given is guessed (``Conversion.guessed`` says so);
    ``write_options`` go to the target's writer (``task="detect"`` for YOLO, say)::

        convert_labels("yolo-dataset/", "annotations.xml", to_format="cvat")
    """
    import tempfile

    from labelport.formats import get_format, guess_format
    from labelport.store.sqlite import SqliteStore

    guessed = []
    if from_format is None:
        from_format = guess_format(source)
        guessed.append("from")
    if to_format is None:
        to_format = _format_of_dest(Path(dest))
        guessed.append("to")
    get_format(from_format), get_format(to_format)  # unknown names fail before any work
    with tempfile.TemporaryDirectory(prefix="labelport-convert-") as folder:
        store = SqliteStore(Path(folder) / "convert.db")
        try:
            service = LocalService.embedded(store, name="convert", fingerprint="SHA256:convert")
            project = UserClient(service).create_project("convert")
            report = project.import_labels(
                source, from_format, categories="create", create_missing_data_units=True, on_error=on_error
            )
            exported = project.export_labels(dest, to_format, **write_options)
        finally:
            store.close()
    return Conversion(from_format, to_format, guessed, report, exported)


def _format_of_dest(dest: Path) -> str:
    """The output's format from its name: .xml is CVAT, .json COCO, a folder YOLO (or VOC if it has Annotations/)."""
    from labelport.formats import guess_format

    if dest.exists():
        return guess_format(dest)
    if dest.suffix == ".xml":
        return "cvat"
    if dest.name.endswith((".json", ".json.gz")):
        return "coco"
    raise LabelportError(
        f"cannot tell the format of {dest} from its name; give --to (one of coco, yolo, voc, cvat, labelstudio)."
    )
