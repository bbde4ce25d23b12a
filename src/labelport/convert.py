"""Labels from one format of the table to another, with no project (what ``datum convert`` does):
:func:`convert_labels`, through a temporary embedded store.

>>> Conversion("yolo", "cvat", ["to"], None, None).to_format
'cvat'
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labelport.client import UserClient
from labelport.errors import FormatError, LabelportError
from labelport.formats.base import READER_ARGUMENTS, options_taken, unwritable
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
    overwrite: bool = False,
    read_options: dict[str, Any] | None = None,
    **write_options: Any,
) -> Conversion:
    """Convert labels between two formats of the table (what ``datum convert`` does), with no project:
    through a temporary embedded store, so the import's validation and report and the export's loss
    count are the same as in a project. A format not given is guessed (``Conversion.guessed`` says so);
    ``read_options`` go to the source's reader (``{"task": "obb"}`` for YOLO) and ``write_options`` to
    the target's writer (``task="detect"`` for YOLO, say); an option the format does not take is refused::

        convert_labels("yolo-dataset/", "annotations.xml", to_format="cvat")

    A destination that exists and is not an empty folder is refused unless ``overwrite``. The output
    is written into a temporary sibling of ``dest`` and renamed into place when it is whole, so a
    conversion that fails leaves ``dest`` as it was.
    """
    import tempfile

    from labelport.formats import get_format, guess_format
    from labelport.store.sqlite import SqliteStore

    out = Path(dest).expanduser()
    guessed = []
    if from_format is None:
        from_format = guess_format(source)
        guessed.append("from")
    if to_format is None:
        to_format = _format_of_dest(out)
        guessed.append("to")
    reader, writer = get_format(from_format), get_format(to_format)  # unknown names fail before any work
    _check_options(
        options_taken(reader.read, READER_ARGUMENTS), read_options or {}, f"{from_format}'s reader"
    )
    _check_options(options_taken(writer.write), write_options, f"{to_format}'s writer")
    check_destination(out, writer.folder, overwrite)
    _check_apart(Path(source).expanduser(), out)
    with tempfile.TemporaryDirectory(prefix="labelport-convert-") as folder:
        store = SqliteStore(Path(folder) / "convert.db")
        try:
            service = LocalService.embedded(store, name="convert", fingerprint="SHA256:convert")
            project = UserClient(service).create_project("convert")
            report = project.import_labels(
                source,
                from_format,
                categories="create",
                create_missing_data_units=True,
                on_error=on_error,
                **(read_options or {}),
            )
            with staged(out, writer.folder) as target:
                exported = project.export_labels(target, to_format, **write_options)
            exported.path = str(out)
        finally:
            store.close()
    return Conversion(from_format, to_format, guessed, report, exported)


def _check_options(accepted: list[str], options: dict[str, Any], what: str) -> None:
    """A :class:`LabelportError` naming the first option not ``accepted`` (a format's reader's or writer's)."""
    for name in options:
        if name not in accepted:
            takes = f"it takes {', '.join(accepted)}" if accepted else "it takes none"
            raise LabelportError(f"{name!r} is not an option of {what} ({takes}).")


def check_destination(dest: Path, folder: bool, overwrite: bool) -> None:
    """A :class:`FormatError` when ``dest`` cannot take a conversion's output: a file where the format
    writes a folder (or the other way round), or, unless ``overwrite``, anything but an empty folder."""
    if not dest.exists() and not dest.is_symlink():
        return
    kind = "folder" if folder else "file"
    if dest.is_dir() != folder:
        raise FormatError(
            "convert_dest",
            f"is a {'file' if folder else 'folder'}; the format writes a {kind}.",
            file=str(dest),
        )
    if not overwrite and (not folder or any(dest.iterdir())):
        raise FormatError(
            "convert_dest",
            f"already exists{' and is not empty' if folder else ''}; give --overwrite (overwrite=True) to replace it.",
            file=str(dest),
        )


def _check_apart(source: Path, dest: Path) -> None:
    """A :class:`FormatError` when the destination is the source, holds it or lies in it: replacing it
    would remove what was read (a dataset's images among it)."""
    src, out = source.resolve(), dest.resolve()
    if src == out or src.is_relative_to(out) or (src.is_dir() and out.is_relative_to(src)):
        raise FormatError(
            "convert_dest",
            f"is or holds the source {source} (or lies in it); write elsewhere.",
            file=str(dest),
        )


@contextmanager
def staged(dest: Path, folder: bool) -> Iterator[Path]:
    """A path beside ``dest`` to write the output to; when the block ends without an error it is renamed
    to ``dest`` (what was there before is removed), else it is removed. A :class:`FormatError` names
    ``dest`` when its folder cannot be written."""
    import shutil
    import tempfile

    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    except OSError as exc:
        raise unwritable(dest, exc) from None
    try:
        target = work / dest.name
        try:
            yield target
            if folder:
                target.mkdir(exist_ok=True)  # a dataset of nothing is still a folder
            if dest.exists() or dest.is_symlink():
                os.rename(dest, work / "before")  # moved aside, removed with the work folder
            try:
                os.rename(target, dest)
            except OSError:
                if (work / "before").exists():
                    os.rename(work / "before", dest)
                raise
        except OSError as exc:
            raise unwritable(target, exc) from None
    except FormatError as exc:  # named after the temporary path: name the destination
        if exc.file is None or not Path(exc.file).is_relative_to(work):
            raise
        raise FormatError(exc.code, exc.detail, file=str(dest), line=exc.line, path=exc.path) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


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
