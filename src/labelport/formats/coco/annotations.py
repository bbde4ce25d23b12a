"""The one pass over a COCO file's annotations: validate each, then assemble and write rows in file order.

:class:`Pass` hands the file's slices to the import's worker pass (:mod:`labelport.imports.workers`),
which validates them (:mod:`~labelport.formats.coco.chunks`, with its fast path in
:mod:`~labelport.formats.coco.column_checks`) in worker processes when that pays, starting before the data
units are stored. Then, in file order, it checks annotation ids for duplicates across the whole file,
builds each slice's rows (:mod:`~labelport.formats.coco.rows`) and hands batches to the import's
writer thread (:mod:`labelport.imports.writer`); last, it settles the shapes of created objects and
counts conversions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from labelport.formats.coco.chunks import SliceTask
from labelport.formats.coco.plan import Plan, settle_created
from labelport.formats.coco.read import ParsedCoco, slice_spans
from labelport.formats.coco.rows import clean_rows, rows
from labelport.formats.coco.slices import CHUNK, ChunkResult, Context, Evidence
from labelport.imports import workers
from labelport.imports.fingerprint import Fingerprint
from labelport.imports.policy import ErrorPolicy
from labelport.imports.report import ImportReport
from labelport.imports.seen_keys import SeenKeys
from labelport.imports.workers import PARALLEL_FROM, WorkerPass
from labelport.imports.writer import Writer
from labelport.ontology import Shape
from labelport.progress import Progress
from labelport.store.base import BulkRows, BulkSession, PlainRows
from labelport.stored.decode import conversion

#: What a fork server's workers import before their first slice.
PRELOAD = ("labelport.formats.coco.chunks",)

__all__ = ["CHUNK", "PARALLEL_FROM", "Pass", "prepare_workers"]


def prepare_workers() -> Any:
    """The fork server that starts COCO validation workers in a process running other threads (a
    server), started now if it is not running. ``labelport serve`` calls this at start-up, so that
    its first import does not wait."""
    return workers.prepare_workers(PRELOAD)


class Pass:
    """Validate every annotation and write the good ones, in file order.

    Used as a context manager: entering starts the validation workers (when they pay), so that
    they work while the caller stores the data units; :meth:`run` then consumes their results.

    Used as ``with Pass(parsed, plan, report, "ada", None) as importer: importer.run(session, None)``.
    """

    def __init__(
        self, parsed: ParsedCoco, plan: Plan, report: ImportReport, user: str, confidence_field: str | None
    ) -> None:
        self.context = Context(
            parsed.annotations,
            plan,
            parsed.kind == "results",
            confidence_field or "score",
            parsed.release,
            parsed.buffer,
            slice_spans(parsed.annotations, parsed.buffer, CHUNK),
        )
        self.plan = plan
        self.report = report
        self.user = user
        self.prefix = "" if self.context.results else "annotations"
        self.unknown_attributes: Counter[tuple[str, str]] = Counter()
        self.evidence: Counter[Evidence] = Counter()
        self.attribute_keys: set[tuple[Any, str]] = set()
        self.mixed: tuple[int, Any] | None = None
        self.mixed_count = 0
        #: the imported annotations' ids and image ids, to know them when they come again
        self.fingerprint = Fingerprint()
        self.workers = WorkerPass(SliceTask(self.context), len(self.context.raws), PRELOAD)
        self.policy = ErrorPolicy.of(report.on_error)

    def __enter__(self) -> Pass:
        self.workers.__enter__()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.workers.__exit__()

    def run(
        self,
        session: BulkSession,
        progress: Progress | None,
        write: bool = True,
        first: Callable[[], None] | None = None,
    ) -> None:
        """Validate (or collect the workers' results), assemble rows and write them (a dry run,
        ``write=False``, only counts them: existing objects are read from ``session`` all the
        same); then settle the shapes of created objects and count conversions. ``first`` is
        other work on the session for the writer thread to do before the rows (it waits for the
        workers' first slices anyway), when there is a writer."""
        raws = self.context.raws
        total = len(raws)
        self.report.counts.annotations = total
        existing = session.existing_keys()
        writer = Writer(session, self.context.release) if write else None
        failure: BaseException | None = None
        if writer is not None and first is not None:
            writer.put(first)
        try:
            self._assemble(self.workers.results(), existing, writer, progress, total)
        finally:
            if writer is not None:
                failure = writer.close()
        if failure is not None:
            raise failure
        settle_created(self.plan, self.evidence, self.attribute_keys)
        for target in self.plan.cats.values():
            # a created object that turned out rotatable reads "rotation" as geometry, not an attribute
            if target.obj.shape is Shape.ROTATABLE_BOUNDING_BOX:
                self.unknown_attributes.pop((target.obj.title, "rotation"), None)
        for (cat_id, form, keypoints, bbox), n in self.evidence.items():
            shape = self.plan.cats[cat_id].obj.shape
            forms = [f for f, ok in ((form, form), ("keypoints", keypoints), ("bbox", bbox)) if ok]
            converted = conversion(shape, [str(f) for f in forms])
            if converted is not None:
                self.report.conversions[converted] = self.report.conversions.get(converted, 0) + n
        if self.mixed is not None:
            index, written = self.mixed
            self.report.warning(
                "id_mixed_types",
                f"{self.prefix}[{index}]",
                f"{self.mixed_count:,} references write an id as {type(written).__name__} "
                f"{written!r} where its image or category has it the other way; taken as the same id "
                "(each is exported as it came).",
            )
        for (title, name), count in sorted(self.unknown_attributes.items()):
            self.report.warning(
                "attribute_unknown",
                f"annotations[*].attributes.{name}" if name else 'annotations[*].attributes[""]',
                f"object {title!r} has no attribute {name!r}; {count} answers kept only in the source records.",
            )

    def _fingerprint(self, columns: Any, result: ChunkResult, duplicates: set[int]) -> None:
        """Add the slice's imported annotations (their keys and image ids) to the fingerprint."""
        if columns is not None:
            keys, image_ids = columns[0], columns[1]
            if duplicates:
                kept = [j for j in range(len(keys)) if j not in duplicates]
                keys, image_ids = [keys[j] for j in kept], [image_ids[j] for j in kept]
            self.fingerprint.add(keys, image_ids)
        else:
            kept_rows = [r for r in result.rows if r[0] not in duplicates]
            self.fingerprint.add([r[1] for r in kept_rows], [r[2] for r in kept_rows])

    def _assemble(
        self,
        chunks: Iterable[ChunkResult],
        existing: dict[int, tuple[str, int]],
        writer: Writer | None,
        progress: Progress | None,
        total: int,
    ) -> None:
        report, raws, prefix = self.report, self.context.raws, self.prefix
        counts = report.counts
        images = self.plan.images
        features = {cat_id: target.feature_hash for cat_id, target in self.plan.cats.items()}
        seen = SeenKeys()
        tracks: dict[Any, str] = {}
        for sent in chunks:
            columns = sent.columns  # (from a worker, arrays: fingerprinted before they become lists)
            result = sent.listed()
            start = result.start
            duplicates: set[int] = set()
            problems = result.problems
            keys: Sequence[int]
            if result.columns is not None:
                keys, offsets = result.columns[0], None
            else:
                offsets = [j for j, _ in result.ids]
                keys = [key for _, key in result.ids]
            for i, first in seen.repeats(keys, start, offsets):
                j = i if offsets is None else offsets[i]
                duplicates.add(j)
                problems.append(
                    (
                        start + j,
                        "id_duplicate",
                        "id",
                        f"annotation id {keys[i]} is used again (first at annotations[{first}]).",
                        True,
                        keys[i],
                    )
                )
            if problems:
                for i, code, where, message, is_error, ident in sorted(problems, key=lambda p: p[0]):
                    path = f"{prefix}[{i}].{where}" if where else f"{prefix}[{i}]"
                    (report.error if is_error else report.warning)(code, path, message, annotation_id=ident)
            counts.skipped += result.skipped
            self.evidence.update(result.evidence)
            self.attribute_keys.update(result.attribute_keys)
            self.plan.unmatched_counts.update(result.unmatched)
            self.unknown_attributes.update(result.unknown_attributes)
            if result.mixed is not None:
                self.mixed = self.mixed or result.mixed
                self.mixed_count += result.mixed_count
            self._fingerprint(columns if not duplicates else result.columns, result, duplicates)
            batches: list[PlainRows | BulkRows]
            if result.columns is not None and not duplicates and not existing:
                batches = [clean_rows(result.columns, raws, start, images, features)]
                counts.created += len(batches[0])
            else:
                batches = rows(result, raws, counts, duplicates, existing, tracks, images, features)
            counts.imported += sum(map(len, batches))
            if writer is not None and not self.policy.stops(len(report.errors)):
                for batch in batches:
                    writer.put(batch)
            if progress is not None:
                progress(min(start + CHUNK, total), total)
