"""Which data units an image may go to by its subset (see "Matching, built in" in docs/importing.md).

An image's subset is its record's (CVAT's ``subset``, YOLO's and VOC's splits, ``subset``: what an
import's ``subset`` option writes there); a data unit's is that of the image record it keeps
(``unit.extra["coco_images"][frame]``). An image is never put on a unit whose kept image names another
subset: of its name, the unit an earlier import made of it (``<subset>/<file name>``) is taken, or it
is created as that unit, or it is reported (``image_other_subset``). Where one side names a subset and
the other none, the image goes where its name takes it, and the import says so once
(``image_subset_unknown``, a warning).
"""

from __future__ import annotations

from typing import Any

import msgspec

from labelport.data import DataUnit
from labelport.formats.coco.match import UnitIndex
from labelport.formats.subsets import SPLIT_NAMES, own_title, same_subset, subset_of
from labelport.imports.report import ImportReport

Target = tuple[DataUnit, int]
#: An image matched by name whose kept image is of another subset: (the image's subset, the title to
#: create it by, the unit it is not, that unit's subset)
OtherSubset = tuple[str, str, DataUnit, str]


def subset_in(record: Any) -> str | None:
    """The subset of an image record, as the file gave it (its bytes) or as a data unit keeps it; None
    for none (or CVAT's ``default``)."""
    if isinstance(record, msgspec.Raw):
        text = bytes(record)
        if b"subset" not in text and b"_split" not in text:
            return None  # (most images: no subset to read, and nothing to decode)
        try:
            record = msgspec.json.decode(record)
        except msgspec.DecodeError:
            return None
    return subset_of(record, named=True) if isinstance(record, dict) else None


def _kept(target: Target) -> tuple[bool, str | None]:
    """(whether the unit keeps an image record for the frame, that record's subset)."""
    unit, frame = target
    record = unit.extra.get("coco_images", {}).get(str(frame))
    return record is not None, subset_in(record)


class SubsetMatch:
    """Tells an image's candidates apart by subset (:meth:`candidates`), and counts the images put on a
    unit where one of the two names a subset and the other none, for one warning (:meth:`finish`)."""

    def __init__(self, index: UnitIndex | None, create: bool) -> None:
        self.index, self.create = index, create
        self.unsure = 0
        #: the first such image: (its place, its file name, the unit, the subset named, whose it is)
        self.first: tuple[str, str, str, str, str] | None = None

    def candidates(
        self, report: ImportReport, path: str, found: list[Target], raw: msgspec.Raw, method: str, image: Any
    ) -> tuple[str, list[Target], OtherSubset | None]:
        """(method, candidates, the unit of another subset it matched when that was its only candidate,
        and it is to be created as a unit of its own); an explicit map (no index) is followed as given."""
        subset = subset_in(raw) if self.index is not None else None
        if subset is None:
            return method, found, None
        kept = [_kept(c)[1] for c in found]
        alike = [c for c, k in zip(found, kept, strict=True) if k is not None and same_subset(k, subset)]
        if len(alike) == 1:
            return method, alike, None
        title = own_title(subset, str(image.file_name), image.id)
        own = [c for t in self._titles(subset, title, image) for c in t if _fits(c, subset)]
        if own:
            return "file_name", list({(u.data_hash, f): (u, f) for u, f in own}.values()), None
        fitting = [c for c, k in zip(found, kept, strict=True) if k is None or same_subset(k, subset)]
        if fitting or not found:
            return method, fitting, None
        other = (subset, title, found[0][0], next(k for k in kept if k is not None))
        return method, [], other if self._apart(report, path, other) else None

    def _titles(self, subset: str, title: str, image: Any) -> list[list[Target]]:
        """The units titled as an earlier import named the image: ``<subset>/<file name>``, its subset
        also spelled as Ultralytics' split (CVAT's ``Validation`` is ``val/a.jpg``) or in lower case."""
        if self.index is None:
            return []
        folded = subset.casefold()
        spellings = dict.fromkeys((subset, folded, SPLIT_NAMES.get(folded, folded)))
        titles = dict.fromkeys([title, *(own_title(s, str(image.file_name), image.id) for s in spellings)])
        return [self.index.by_title.get(t, []) for t in titles]

    def landed(self, path: str, raw: msgspec.Raw, image: Any, target: Target) -> None:
        """Image ``raw`` (at ``path``) goes to ``target``: counted when one names a subset, the other none
        (not when an explicit map sent it there)."""
        has_record, theirs = _kept(target)
        if not has_record or self.index is None:
            return  # (a unit no import has kept an image for: one added from media takes any subset)
        ours = subset_in(raw)
        if (ours is None) == (theirs is None):
            return
        self.unsure += 1
        if self.first is None:
            named, whose = (theirs, "the data unit's kept image") if ours is None else (ours, "the image")
            self.first = (path, str(image.file_name), target[0].title, str(named), whose)

    def _apart(self, report: ImportReport, path: str, other: OtherSubset) -> bool:
        """An image of one subset that matched only a unit of another: True when it is to be created as a
        unit of its own (``create``); else an error at the image (it is then unmatched, and not imported)."""
        if self.create:
            return True
        subset, title, unit, theirs = other
        report.error(
            "image_other_subset",
            path,
            f"the image of subset {subset!r} has the name of data unit {unit.title!r}, whose image is of "
            f"subset {theirs!r}, and is not imported onto it; --create-missing makes it a data unit of its "
            f"own, {title!r}.",
        )
        return False

    def finish(self, report: ImportReport) -> None:
        """One warning for the images put on a unit where only one side names a subset."""
        if self.first is None:
            return
        path, name, title, named, whose = self.first
        more = (
            f" (and {self.unsure - 1:,} more image{'s' if self.unsure > 2 else ''})"
            if self.unsure > 1
            else ""
        )
        report.warning(
            "image_subset_unknown",
            path,
            f"image {name!r} went to data unit {title!r} by its name, though only {whose} names a subset "
            f"({named!r}){more}; to keep files of different subsets apart, give each file's import "
            "--subset NAME.",
        )


def _fits(target: Target, subset: str) -> bool:
    kept = _kept(target)[1]
    return kept is None or same_subset(kept, subset)
