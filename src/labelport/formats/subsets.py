"""Subsets (splits) of a dataset's images, and names that keep them.

A CVAT project export holds ``a.jpg`` in its ``Train`` and ``Validation`` subsets; YOLO has
``images/train/a.jpg`` and ``images/val/a.jpg``. An import names such images ``<subset>/<file name>``
(:func:`names_with_subsets`), the titles of their data units; a writer whose layout holds the subset
takes it off again (:func:`names_within_subsets`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from labelport.errors import LabelportError


def subset_of(image: Mapping[str, Any], *, named: bool = False) -> str | None:
    """The subset (split) an image came with: YOLO's split, VOC's, CVAT's ``subset``, or the one an
    import's ``subset`` option gave it (its record's ``subset``); None when none.
    ``named``: None for ``default`` too, the name CVAT and Datumaro give the images of no subset.

    >>> subset_of({"cvat": {"subset": "Train"}}), subset_of({"yolo_split": "val"}), subset_of({})
    ('Train', 'val', None)
    >>> subset_of({"cvat": {"subset": "default"}}), subset_of({"cvat": {"subset": "default"}}, named=True)
    ('default', None)
    """
    cvat = image.get("cvat")
    for value in (
        image.get("yolo_split"),
        image.get("voc_split"),
        cvat.get("subset") if isinstance(cvat, dict) else None,
        image.get("subset"),  # an import's ``subset`` option (or a file's own field of that name)
    ):
        if isinstance(value, str) and value:
            return None if named and value == "default" else value
    return None


#: Subset names other tools give (CVAT's Train, Validation, Test), as the splits Ultralytics reads
SPLIT_NAMES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}


def same_subset(a: str | None, b: str | None) -> bool:
    """Whether two subset names are one subset: equal but for case, or one of Ultralytics' splits.

    >>> same_subset("Validation", "val"), same_subset("Train", "train"), same_subset("Train", "test")
    (True, True, False)
    """
    if a is None or b is None:
        return a is b
    a, b = a.casefold(), b.casefold()
    return SPLIT_NAMES.get(a, a) == SPLIT_NAMES.get(b, b)


def names_a_folder(subset: str) -> bool:
    """Whether ``subset`` can be one folder's name: up to 255 bytes, not blank, ``.`` or ``..``, and
    without ``/``, ``\\`` or NUL."""
    return not (
        not subset.strip()
        or subset in (".", "..")
        or any(c in subset for c in "/\\\0")
        or len(subset.encode("utf-8", "surrogatepass")) > 255
    )


def _shared_by_subsets(images: list[dict[str, Any]]) -> bool:
    """Whether two images of different subsets (or of one and of none) have one file name."""
    subsets: dict[str, set[str | None]] = {}
    for image in images:
        subsets.setdefault(str(image.get("file_name")), set()).add(subset_of(image, named=True))
    return any(len(found) > 1 for found in subsets.values())


def _folder_of(image: Mapping[str, Any]) -> str | None:
    """The subset an image's file name keeps as its first folder (see :func:`names_with_subsets`): one
    that can name a folder, and prints (no line break or control character in a title)."""
    subset = subset_of(image, named=True)
    return subset if subset is not None and names_a_folder(subset) and subset.isprintable() else None


def names_with_subsets(images: list[dict[str, Any]]) -> None:
    """Keep the subset in the file names of images (in place) when images of two subsets share a name.

    Then every image with a subset is named ``<subset>/<file name>``: the title the import matches
    and creates its data unit by, and the path under the dataset's images folder in YOLO's and
    Datumaro's layouts. Images of no subset (or CVAT's ``default``), and of a subset that cannot name
    a folder or does not print, keep their names (two of one name are told apart by image id).
    :func:`names_within_subsets` undoes it for a writer, whose layout holds the subset.

    >>> images = [{"file_name": "a.jpg", "yolo_split": s} for s in ("train", "val")]
    >>> images.append({"file_name": "b.jpg", "cvat": {"subset": "default"}})
    >>> names_with_subsets(images)
    >>> [i["file_name"] for i in images]
    ['train/a.jpg', 'val/a.jpg', 'b.jpg']
    """
    if not _shared_by_subsets(images):
        return
    for image in images:
        folder = _folder_of(image)
        if folder is not None and isinstance(image.get("file_name"), str):
            image["file_name"] = f"{folder}/{image['file_name']}"


def names_within_subsets(images: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The images as a writer lays them out in their subsets: :func:`names_with_subsets` undone (a
    file name's first folder that is its image's subset taken off) when the names so made are shared
    by two subsets, so an import of what is written gives the same names back; else as they are.

    >>> images = [{"file_name": f"{s}/a.jpg", "cvat": {"subset": s}} for s in ("Train", "Test")]
    >>> [i["file_name"] for i in names_within_subsets(images)]
    ['a.jpg', 'a.jpg']
    """
    within = []
    for image in images:
        folder, name = _folder_of(image), image.get("file_name")
        if folder is not None and isinstance(name, str) and name.startswith(f"{folder}/"):
            image = {**image, "file_name": name[len(folder) + 1 :]}
        within.append(image)
    return within if _shared_by_subsets(within) else images


def given_subset(subset: Any) -> str | None:
    """An import's ``subset`` option (the subset of every image of the file that names none), checked:
    a name that prints, not blank, of up to 255 bytes; a :class:`LabelportError` otherwise.

    >>> given_subset("val"), given_subset(None)
    ('val', None)
    """
    if subset is None:
        return None
    if not isinstance(subset, str) or not subset.strip() or not subset.isprintable():
        raise LabelportError(f"the subset option must be a name that prints, not {subset!r}.")
    if len(subset.encode("utf-8", "surrogatepass")) > 255:
        raise LabelportError("the subset option must be a name of at most 255 bytes.")
    return subset


def with_subset(raw: msgspec.Raw, subset: str) -> msgspec.Raw:
    """An image record (as the file wrote it) with ``"subset"`` added when it names no subset of its own."""
    try:
        record = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return raw  # (not JSON an image can be: refused where it is read)
    if not isinstance(record, dict) or subset_of(record) is not None:
        return raw
    return msgspec.Raw(msgspec.json.encode({**record, "subset": subset}))


def own_title(subset: str, file_name: str, image_id: Any) -> str:
    """The title of a data unit an image of ``subset`` is given when a unit of another subset has its name:
    ``<subset>/<file name>`` (as :func:`names_with_subsets` names it), else ``<file name>#<image id>``.

    >>> own_title("val", "a.jpg", 7), own_title("val", "val/a.jpg", 7), own_title("../x", "a.jpg", 7)
    ('val/a.jpg', 'val/a.jpg', 'a.jpg#7')
    """
    if names_a_folder(subset) and subset.isprintable():
        return file_name if file_name.startswith(f"{subset}/") else f"{subset}/{file_name}"
    return f"{file_name}#{image_id}"
