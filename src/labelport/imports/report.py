"""The import report: every decision an import made, and every problem it found, with JSON paths.

>>> report = ImportReport(source="a.json", branch="main")
>>> report.error("bbox_size", "annotations[3].bbox", "bbox width must be > 0, not -1.", annotation_id=7)
>>> report.ok
False
>>> report.errors[0].path
'annotations[3].bbox'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from labelport.imports.policy import ErrorPolicy
from labelport.plural import plural


class Problem(msgspec.Struct, omit_defaults=True):
    """One error or warning: a code (stable, for programs), a JSON path, a sentence."""

    code: str
    path: str
    message: str
    annotation_id: int | str | None = None

    def __str__(self) -> str:
        ident = "" if self.annotation_id is None else f" (annotation id {self.annotation_id})"
        return f"{self.path}{ident}: {self.message}"


class ImageMatch(msgspec.Struct, omit_defaults=True):
    """How one COCO image was matched, kept for examples in the report."""

    image_id: int | str
    file_name: str
    method: str
    data_hash: str | None = None
    frame: int = 0
    candidates: list[str] = msgspec.field(default_factory=list)


class CategoryMatch(msgspec.Struct, omit_defaults=True):
    category_id: int | str
    name: str
    method: str
    feature_hash: str | None = None
    title: str | None = None


class Counts(msgspec.Struct):
    images: int = 0
    images_matched: int = 0
    images_unmatched: int = 0
    images_ambiguous: int = 0
    data_units_created: int = 0
    categories: int = 0
    categories_matched: int = 0
    categories_unmatched: int = 0
    categories_created: int = 0
    annotations: int = 0
    imported: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    replaced: int = 0
    errors: int = 0
    warnings: int = 0


class ImportReport(msgspec.Struct, kw_only=True):
    """What an import did. ``ok`` is true when it wrote (or, dry, would write) without errors."""

    source: str
    branch: str
    kind: str = "instances"
    dry_run: bool = False
    on_error: str = "fail"
    #: the import cleared the matched data units' earlier labels first
    replace: bool = False
    written: bool = False
    counts: Counts = msgspec.field(default_factory=Counts)
    image_matches: dict[str, int] = msgspec.field(default_factory=dict)
    unmatched_images: list[ImageMatch] = msgspec.field(default_factory=list)
    ambiguous_images: list[ImageMatch] = msgspec.field(default_factory=list)
    matched_examples: list[ImageMatch] = msgspec.field(default_factory=list)
    categories: list[CategoryMatch] = msgspec.field(default_factory=list)
    conversions: dict[str, int] = msgspec.field(default_factory=dict)
    errors: list[Problem] = msgspec.field(default_factory=list)
    warnings: list[Problem] = msgspec.field(default_factory=list)
    #: files a local import of a folder read outside the dataset's folder (its paths led there)
    outside_files: list[str] = msgspec.field(default_factory=list)
    seconds: float = 0.0
    #: the imported annotations' count and ids, summed up (:mod:`labelport.imports.fingerprint`)
    fingerprint: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors

    def errors_of(self, code: str) -> list[Problem]:
        """The errors with this code."""
        return [p for p in self.errors if p.code == code]

    def error(self, code: str, path: str, message: str, *, annotation_id: int | str | None = None) -> None:
        self.errors.append(Problem(code, path, message, annotation_id))
        self.counts.errors += 1

    def warning(self, code: str, path: str, message: str, *, annotation_id: int | str | None = None) -> None:
        self.warnings.append(Problem(code, path, message, annotation_id))
        self.counts.warnings += 1

    def relocate(self, where: Callable[[str], str]) -> None:
        """Name each problem's place by ``where`` (a format reader's source place of a COCO path). A
        problem so placed loses its annotation id: the reader numbered the records it made, and that
        number is in no file of the user's."""
        for problems in (self.errors, self.warnings):
            for problem in problems:
                placed = where(problem.path)
                if placed != problem.path:
                    problem.path, problem.annotation_id = placed, None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``--json`` and ``--report FILE`` write)."""
        data: dict[str, Any] = msgspec.to_builtins(self)
        data["ok"] = self.ok
        return data

    def to_json(self) -> bytes:
        return msgspec.json.encode(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportReport:
        data = {k: v for k, v in data.items() if k != "ok"}
        return msgspec.convert(data, cls)

    def summary(self) -> str:
        """A few lines for a terminal."""
        c = self.counts
        if self.written or (self.dry_run and not ErrorPolicy.of(self.on_error).stops(len(self.errors))):
            verb = "would import" if self.dry_run else "imported"
            head = (
                f"{self.source} -> branch {self.branch}: {verb} {c.imported:,} of "
                f"{plural(c.annotations, 'annotation')} "
                f"({c.created:,} new, {c.updated:,} updated, {c.skipped:,} skipped)."
            )
        else:
            verb = "would import" if self.dry_run else "imported"
            head = (
                f"{self.source} -> branch {self.branch}: {verb} nothing (on_error={self.on_error!r}); "
                f"{plural(c.annotations, 'annotation')} checked, {c.skipped:,} with errors."
            )
        lines = [head, self._images_line(), self._categories_line()]
        if self.replace and self.dry_run:
            lines.append(
                "replaced (--replace): the matched data units' earlier labels would be removed first."
            )
        elif self.replace:
            lines.append(
                f"replaced (--replace): {plural(c.replaced, 'earlier object')} of the matched data units "
                "removed first."
            )
        if self.conversions:
            lines.append(
                "converted: " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.conversions.items())) + "."
            )
        if self.outside_files:
            shown = ", ".join(self.outside_files[:3]) + (", ..." if len(self.outside_files) > 3 else "")
            lines.append(
                f"read {plural(len(self.outside_files), 'file')} outside the dataset's folder, where its "
                f"paths led: {shown} (outside_files in --report FILE)."
            )
        lines.append(f"{plural(c.errors, 'error')}, {plural(c.warnings, 'warning')}.")
        for label, problems in (("error", self.errors), ("warning", self.warnings)):
            for p in problems[:10]:
                lines.append(f"  {label}: {p}")
            if len(problems) > 10:
                lines.append(f"  ... and {plural(len(problems) - 10, 'more ' + label)} (see --report FILE).")
        return "\n".join(lines)

    def _images_line(self) -> str:
        c = self.counts
        if self.kind == "results":
            unknown = sum(1 for p in self.errors + self.warnings if p.code == "image_unknown")
            return (
                "images: a results list names none; its image ids were resolved through the ids kept "
                "from the ground-truth import (or a --match map)"
                + (f"; {plural(unknown, 'annotation')} named an id not known" if unknown else "")
                + "."
            )
        return (
            f"images: {c.images_matched:,} matched, {c.images_unmatched:,} unmatched, {c.images_ambiguous:,} ambiguous"
            + (f", {plural(c.data_units_created, 'data unit')} created" if c.data_units_created else "")
            + (
                " (" + ", ".join(f"{k} {v:,}" for k, v in sorted(self.image_matches.items())) + ")"
                if self.image_matches
                else ""
            )
            + "."
        )

    def _categories_line(self) -> str:
        c = self.counts
        return (
            f"categories: {c.categories_matched:,} matched, {c.categories_unmatched:,} unmatched"
            + (f", {c.categories_created:,} created" if c.categories_created else "")
            + "."
        )
