"""What an import's annotations are, in one short text: to know the same annotations when they come
again under another source name (a renamed file, its ``.json.gz``, standard input).

An import is keyed by its source name (see :mod:`labelport.formats.coco.importer`), so the same file
under another name would create every object a second time. The fingerprint is the count of the
annotations imported, a 64-bit sum over them of a mix of each one's id and its image's id, and a sum
over the file's images of a mix of each image's id and the data unit and frame it landed on: the
same whatever their order, and made from columns the import already holds. The images' part is what
tells two readers' datasets apart, whose ids count 1, 2, 3 in both: their images land on other units.

>>> a, b = Fingerprint(), Fingerprint()
>>> a.add([1, 2, 3], [10, 10, "x"]); b.add([3], ["x"]); b.add([2, 1], [10, 10])
>>> a.text() == b.text(), a.text()[:2]
(True, '3:')
>>> c = Fingerprint(); c.add([1, 2, 3], [10, 11, "x"]); c.text() == a.text()
False
>>> a.add_images([(10, "unit-a", 0)]); b.add_images([(10, "unit-b", 0)]); a.text() == b.text()
False
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from labelport.imports.report import ImportReport
from labelport.plural import plural

_MASK = (1 << 64) - 1
_SPREAD = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser over an array of uint64: each bit of the input moves every bit out."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    out: np.ndarray = x ^ (x >> np.uint64(31))
    return out


def _numbers(ids: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Ids as uint64: whole numbers as their 64 bits, anything else (a string id) by a hash of its
    text."""
    if isinstance(ids, np.ndarray):
        return ids.astype(np.int64, copy=False).view(np.uint64)
    try:
        return np.asarray(ids, dtype=np.int64).view(np.uint64)
    except (TypeError, ValueError, OverflowError):
        return np.fromiter(
            (
                v & _MASK
                if type(v) is int
                else int.from_bytes(hashlib.blake2b(repr(v).encode(), digest_size=8).digest(), "little")
                for v in ids
            ),
            np.uint64,
            len(ids),
        )


def _text_numbers(texts: Sequence[str]) -> np.ndarray:
    """Texts (data hashes) as uint64, each its UTF-8 bytes' 8-byte words folded by :func:`_mix`:
    a numpy pass a word, not a hash call per text."""
    encoded = [t.encode() for t in texts]
    width = -(-max(map(len, encoded), default=1) // 8) * 8
    words = np.array(encoded, dtype=f"S{width}").view(np.uint64).reshape(len(texts), width // 8)
    folded = np.zeros(len(texts), dtype=np.uint64)
    for column in words.T:
        folded = _mix(folded * _SPREAD + column)
    return folded


class Fingerprint:
    """Annotations (their ids and their images' ids) added slice by slice; :meth:`text` sums them up."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0
        self.images = 0

    def add(self, keys: Sequence[int] | np.ndarray, image_ids: Sequence[Any] | np.ndarray) -> None:
        if not len(keys):
            return
        with np.errstate(over="ignore"):
            mixed = _mix(_numbers(keys) * _SPREAD + _mix(_numbers(image_ids)))
            self.total = (self.total + int(mixed.sum(dtype=np.uint64))) & _MASK
        self.count += len(keys)

    def add_images(self, targets: Iterable[tuple[Any, str, int]]) -> None:
        """Add the images (image id, the data unit's hash, frame) the annotations went onto."""
        ids, hashes, frames = [], [], []
        for image_id, data_hash, frame in targets:
            ids.append(image_id)
            hashes.append(data_hash)
            frames.append(frame)
        if ids:
            with np.errstate(over="ignore"):
                place = _text_numbers(hashes) * _SPREAD + np.asarray(frames, dtype=np.uint64)
                mixed = _mix(_numbers(ids) * _SPREAD + _mix(place))
                self.images = (self.images + int(mixed.sum(dtype=np.uint64))) & _MASK

    def text(self) -> str:
        """``count:annotations:images`` (each sum as 16 hexadecimal digits); "" when nothing was added."""
        return f"{self.count}:{self.total:016x}:{self.images:016x}" if self.count else ""


def refuse_repeat(
    report: ImportReport, earlier: list[dict[str, Any]], holds_objects: Callable[[str], bool]
) -> None:
    """An ``already_imported`` error when ``report`` imported the same annotations (by fingerprint)
    as an earlier import on its branch under another source name whose objects are still there:
    importing them again would create every object a second time. ``earlier`` is the store's list of
    imports (:meth:`~labelport.store.base.LabelStore.imports`); ``holds_objects`` tells whether a
    source still holds objects on the branch (its labels may have been deleted since)."""
    if not report.fingerprint:
        return
    for record in reversed(earlier):
        kept = record.get("report") or {}
        if (
            record.get("branch") == report.branch
            and record.get("source") not in (None, report.source)
            and kept.get("fingerprint") == report.fingerprint
            and holds_objects(record["source"])
        ):
            source, day = record["source"], str(record.get("created_at", ""))[:10]
            report.error(
                "already_imported",
                "annotations",
                f"these annotations were imported from {source} on {day} (the same "
                f"{plural(report.counts.imported, 'annotation id')} on the same images); use --replace to replace "
                f"them, or --source-name {source} to update them in place.",
            )
            return
