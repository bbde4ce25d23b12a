"""The one pass over a file's annotations: validate each, then assemble and write rows in file order.

:func:`validate_chunk` is pure: given a slice of raw annotations and the matching plan it returns
the rows it would write, the evidence of what each imported annotation carried (from which created
objects get their shapes and conversions are counted) and every problem it found, touching nothing
shared. A clean slice is proven clean at once by :func:`_clean_chunk` (a strict typed decode and
numpy column checks); any other goes annotation by annotation.

:class:`Pass` feeds it slices: in worker processes when the file is large and the machine has a
second core (validation is Python work that holds the GIL) — forked where that is safe, started by
a fork server in a process that runs other threads — and from before the data units are stored.
Then, in file order, it checks annotation ids for duplicates across the whole file, gives each row
its object hash, and hands batches to a writer thread (the store's driver releases the GIL while it
writes).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import queue
import secrets
import sys
import threading
import types
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain, islice, repeat
from multiprocessing import forkserver
from typing import Any, NamedTuple

import msgspec
import numpy as np

from labelport.formats.coco import schema
from labelport.formats.coco.match import ID_MAX, ID_MIN, fold, other_form
from labelport.formats.coco.plan import CategoryTarget, ImageTarget, Plan, settle_created
from labelport.formats.coco.read import ParsedCoco, join_raw
from labelport.formats.coco.records import conversion
from labelport.formats.coco.report import ImportReport
from labelport.formats.coco.validate import (
    check_bbox,
    check_keypoints,
    check_rle,
    check_segmentation,
    finite,
    iscrowd_ok,
    segmentation_form,
    short,
)
from labelport.ontology import AttributeType, Shape
from labelport.progress import Progress
from labelport.store._json import dumps
from labelport.store.base import BulkRows, BulkSession, PlainRows

CHUNK = 20_000
#: Files with fewer annotations than this are validated in-process (forking costs more than it saves).
PARALLEL_FROM = 4 * CHUNK
#: Chunks each worker may validate ahead of the writer. Results are small (three columns of ids),
#: and a deep queue keeps the workers busy while the data units are stored.
AHEAD_PER_WORKER = 12
#: The same for workers that receive each slice's bytes (a slice of COCO train is ~9 MB).
SENT_AHEAD_PER_WORKER = 2
WORKER_NICENESS = 10
_POLYGON_FORMS = ("polygon", "flat_polygon", "other")
_RLE_FORMS = ("rle", "rle_compressed")
_NUMBERS = (int, float)

#: (index in file, code, field path below the annotation, message, is error, annotation id)
Problem = tuple[int, str, str, str, bool, Any]
#: (index in chunk, key, image id, category id, confidence, manual, answers, track id). Images and
#: categories go by their COCO ids: workers start before the data units (and their rows) are stored.
PendingRow = tuple[int, int, Any, Any, float, int, bytes | None, Any]
#: What one imported annotation carried: (category id, segmentation form or None, keypoint count,
#: bbox usable). Counted per chunk; shapes of created objects and conversions are decided from it.
Evidence = tuple[Any, str | None, int, bool]


class ChunkResult(NamedTuple):
    start: int
    #: the rows to write, when the exact path validated the slice
    rows: list[PendingRow]
    #: (keys, image ids, category ids) of every annotation, when the fast path proved the slice clean
    columns: tuple[list[int], list[Any], list[Any]] | None
    ids: list[tuple[int, int]]
    problems: list[Problem]
    skipped: int
    evidence: Counter[Evidence]
    #: (category id, attribute key) of every ``attributes`` object seen
    attribute_keys: set[tuple[Any, str]]
    unmatched: Counter[Any]
    unknown_attributes: Counter[tuple[str, str]]
    #: references to an image id written the other way ("2299" for 2299): (index, id) of the
    #: first, and how many
    mixed: tuple[int, Any] | None = None
    mixed_count: int = 0


@dataclass
class Context:
    """What validating a chunk needs; shared with forked workers by inheritance, never pickled."""

    raws: list[msgspec.Raw]
    plan: Plan
    results: bool
    confidence_field: str
    #: lets go of the input's pages read so far (:meth:`ParsedCoco.release`)
    release: Callable[[], None] = lambda: None

    def for_spawned_workers(self) -> SentContext:
        """What a worker that does not inherit this process's memory needs, pickled once per worker:
        each image's size (not its target: at 120k images, a third of a second less to pickle)
        and the categories; each slice then travels as its bytes."""
        plan = self.plan
        sizes = {image_id: (t.width, t.height) for image_id, t in plan.images.items()}
        return SentContext(
            sizes,
            plan.known_images,
            plan.cats,
            plan.known_cats,
            self.results,
            self.confidence_field,
        )


class SentContext(NamedTuple):
    """A :class:`Context` as sent to a worker started by a fork server."""

    sizes: dict[Any, tuple[int, int]]
    known_images: dict[Any, int]
    cats: dict[Any, CategoryTarget]
    known_cats: dict[Any, int]
    results: bool
    confidence_field: str

    def context(self) -> Context:
        images = {image_id: ImageTarget("", 0, w, h) for image_id, (w, h) in self.sizes.items()}
        plan = Plan(
            images=images,
            known_images=self.known_images,
            cats=self.cats,
            known_cats=self.known_cats,
        )
        return Context([], plan, self.results, self.confidence_field, _keep_pages)


def _keep_pages() -> None:
    """A spawned worker reads slices sent to it, not the mapped file: nothing to let go of."""


def validate_chunk(ctx: Context, start: int, chunk: list[msgspec.Raw] | None = None) -> ChunkResult:
    """Validate the annotations from index ``start`` (``chunk``, or ``ctx.raws[start:start + CHUNK]``);
    return the rows to write and every problem found."""
    if chunk is None:
        chunk = ctx.raws[start : start + CHUNK]
    problems: list[Problem] = []
    here: list[Any] = [0, None]  # current index and annotation id, for fail/warn

    def fail(code: str, where: str, message: str) -> None:
        problems.append((here[0], code, where, message, True, here[1]))

    def warn(code: str, where: str, message: str) -> None:
        problems.append((here[0], code, where, message, False, here[1]))

    clean = _clean_chunk(ctx, chunk, start)
    if clean is not None:
        return clean
    anns = _decode(chunk, start, problems, ctx.results)
    plan = ctx.plan
    missing = schema.MISSING
    images_get, cats_get = plan.images.get, plan.cats.get
    known_images, known_cats = plan.known_images, plan.known_cats
    mixed: tuple[int, Any] | None = None
    mixed_count = 0
    results, confidence_field = ctx.results, ctx.confidence_field
    custom_confidence = confidence_field != "score"
    evidence: Counter[Evidence] = Counter()
    attribute_keys: set[tuple[Any, str]] = set()
    unmatched: Counter[Any] = Counter()
    unknown_attributes: Counter[tuple[str, str]] = Counter()
    rows: list[PendingRow] = []
    ids: list[tuple[int, int]] = []
    skipped = 0
    for j, a in enumerate(anns):
        if a is None:
            skipped += 1
            continue
        i = start + j
        mark = len(problems)
        ann_id = a.id
        here[0], here[1] = i, ann_id if type(ann_id) is int or type(ann_id) is str else None
        if results:
            key = i + 1
        elif type(ann_id) is int and ID_MIN <= ann_id <= ID_MAX:
            key = ann_id
            ids.append((j, ann_id))
        else:
            key = 0
            if type(ann_id) is int:
                fail("id_range", "id", f"annotation id {short(ann_id)} does not fit in 64 bits.")
            elif ann_id is missing:
                fail("id_missing", "id", "the annotation has no 'id'.")
            else:
                fail("id_type", "id", f"an annotation id must be a whole number, not {ann_id!r}.")
        image_id = a.image_id
        hashable = type(image_id) is int or type(image_id) is str
        img = images_get(image_id) if hashable else None
        if img is None and hashable and (other := other_form(image_id)) in known_images:
            image_id, img = other, images_get(other)  # 2299 for "2299": the same image
            mixed_count += 1
            mixed = mixed or (i, a.image_id)
        if img is None:
            if hashable and image_id in known_images:
                unmatched[image_id] += 1
                skipped += 1
                continue
            fail("image_unknown", "image_id", f"image id {short(image_id)} is not among the file's images.")
            width = height = 1 << 30
        else:
            width, height = img.width, img.height
        cat_id = a.category_id
        cat = cats_get(cat_id) if type(cat_id) is int or type(cat_id) is str else None
        if cat is None and type(cat_id) is str and (other := other_form(cat_id)) in known_cats:
            cat_id, cat = other, cats_get(other)  # 3 for "3": the same category
            mixed_count += 1
            mixed = mixed or (i, a.category_id)
        if cat is None:
            if type(cat_id) is int and cat_id in known_cats:
                fail("category_unmatched", "category_id", f"category {cat_id} matches no ontology object.")
            else:
                fail(
                    "category_unknown",
                    "category_id",
                    f"category id {short(cat_id)} is not among the file's categories.",
                )
        seg = a.segmentation
        seg_form = segmentation_form(seg)
        good_form = None
        # An RLE can only be checked against a known image's size.
        if (
            seg_form in _POLYGON_FORMS or (seg_form in _RLE_FORMS and img is not None)
        ) and check_segmentation(seg, seg_form or "", width, height, fail, warn):
            good_form = seg_form
        kp = a.keypoints
        good_keypoints = (
            kp is not missing
            and kp is not None
            and kp != []
            and check_keypoints(
                kp, cat.keypoints if cat else None, width, height, fail, warn, results=results
            )
        )
        bbox = a.bbox
        good_bbox = False
        if bbox is not missing and bbox is not None:
            good_bbox = check_bbox(bbox, width, height, fail, warn)
        elif good_form is None and not good_keypoints and not _has_error(problems, mark):
            fail("no_geometry", "bbox", "the annotation has no bbox, segmentation or keypoints.")
        if cat is not None and cat.skeleton and not good_keypoints and not _has_error(problems, mark):
            fail(
                "no_keypoints",
                "keypoints",
                f"object {cat.obj.title!r} is a skeleton; the annotation has no keypoints.",
            )
        iscrowd = a.iscrowd
        if iscrowd is not missing and iscrowd != 0 and iscrowd != 1 and not iscrowd_ok(iscrowd):
            fail("iscrowd_type", "iscrowd", f"iscrowd must be 0, 1, true or false, not {iscrowd!r}.")
        area = a.area
        if area is not missing and area is not None and (type(area) not in _NUMBERS or not finite(area)):
            fail("area_type", "area", f"area must be a number, not {area!r}.")
        confidence = 1.0
        score = a.score if not custom_confidence else _field(chunk[j], confidence_field)
        if score is not missing and score is not None:
            if type(score) not in _NUMBERS or not 0.0 <= score <= 1.0:
                fail(
                    "score_range",
                    confidence_field,
                    f"{confidence_field} must be a number from 0 to 1, not {score!r}.",
                )
            else:
                confidence = float(score)
        elif results:
            fail("score_missing", "score", "a results entry needs a 'score'.")
        track = a.track_id
        if track is not missing and type(track) is not int and type(track) is not str:
            fail("track_id_type", "track_id", f"track_id must be a number or a string, not {track!r}.")
        answers = None
        attributes = a.attributes
        if attributes is not missing and attributes is not None:
            if type(attributes) is not dict:
                fail("attributes_type", "attributes", "attributes must be a JSON object.")
            elif cat is not None and attributes:
                attribute_keys.update((cat_id, str(k)) for k in attributes)
                answers = _answers(cat, attributes, warn, unknown_attributes)
        if len(problems) > mark and _has_error(problems, mark):
            skipped += 1
            continue
        assert img is not None and cat is not None
        evidence[(cat_id, good_form, len(kp) // 3 if good_keypoints else 0, good_bbox)] += 1
        rows.append(
            (
                j,
                key,
                image_id,
                cat_id,
                confidence,
                0 if score is not missing else 1,
                answers,
                None if track is missing else track,
            )
        )
    return ChunkResult(
        start,
        rows,
        None,
        ids,
        problems,
        skipped,
        evidence,
        attribute_keys,
        unmatched,
        unknown_attributes,
        mixed,
        mixed_count,
    )


class _Unusual(Exception):
    """Raised inside the fast path: this chunk needs the exact, per-annotation path."""


def _unusual(*_args: Any) -> None:
    raise _Unusual


def _clean_chunk(ctx: Context, chunk: list[msgspec.Raw], start: int) -> ChunkResult | None:
    """The fast path: prove a whole slice clean with a strict typed decode and column checks, or
    return None.

    It accepts only what the exact path would accept with no error and no warning (ground truth
    without scores, tracks or attributes; every id, image and category known; every box and polygon
    inside its image; every geometry valid). Anything else, even a warning, sends the slice to
    :func:`validate_chunk`'s per-annotation path, which reports it precisely. Both paths import the
    same rows and count the same evidence.
    """
    if ctx.results or ctx.confidence_field != "score" or not chunk:
        return None
    try:
        anns = schema.clean_annotations_decoder.decode(join_raw(chunk))
    except schema.RECORD_ERRORS:
        return None
    plan, missing = ctx.plan, schema.MISSING
    ids = [a.id for a in anns]
    if min(ids) < ID_MIN or max(ids) > ID_MAX:
        return None
    image_ids = [a.image_id for a in anns]
    cat_ids = [a.category_id for a in anns]
    try:
        images = list(map(plan.images.__getitem__, image_ids))
        cats = list(map(plan.cats.__getitem__, cat_ids))
    except KeyError:
        return None
    if (
        len(set(ids)) != len(ids)
        or not {a.iscrowd for a in anns} <= {0, 1}
        or any(
            a.score is not missing
            or a.track_id is not missing
            or (a.attributes is not missing and a.attributes is not None)
            for a in anns
        )
    ):
        return None
    width = np.fromiter((i.width for i in images), np.float64, len(images))
    height = np.fromiter((i.height for i in images), np.float64, len(images))
    box = np.array([a.bbox for a in anns], dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # x + w beyond float range is not inside
        inside = (
            (box[:, 2] > 0)
            & (box[:, 3] > 0)
            & (box[:, 0] >= 0)
            & (box[:, 1] >= 0)
            & (box[:, 0] + box[:, 2] <= width)
            & (box[:, 1] + box[:, 3] <= height)
        )
    if not inside.all():
        return None
    rings: list[list[float]] = []
    ring_counts: list[int] = []
    forms: list[str | None] = []
    keypoint_counts: list[int] = []
    try:
        for a, img, cat in zip(anns, images, cats, strict=True):
            seg = a.segmentation
            form = None
            if isinstance(seg, list):
                if seg:
                    rings += seg
                    form = "polygon"
                ring_counts.append(len(seg))
            else:
                ring_counts.append(0)
                if isinstance(seg, dict):
                    check_rle(seg, img.width, img.height, _unusual)
                    form = "rle_compressed" if type(seg.get("counts")) is str else "rle"
            forms.append(form)
            kp = a.keypoints
            if kp:
                check_keypoints(kp, cat.keypoints, img.width, img.height, _unusual, _unusual)
                keypoint_counts.append(len(kp) // 3)
            elif cat.skeleton:
                return None
            else:
                keypoint_counts.append(0)
    except _Unusual:
        return None
    if rings and not _rings_inside(rings, ring_counts, width, height):
        return None
    evidence = Counter(zip(cat_ids, forms, keypoint_counts, repeat(True)))
    return ChunkResult(start, [], (ids, image_ids, cat_ids), [], [], 0, evidence, set(), Counter(), Counter())


def _rings_inside(rings: list[list[float]], per_annotation: list[int], width: Any, height: Any) -> bool:
    """Every ring has an even count of at least 6 numbers and lies inside its image (all at once)."""
    lengths = np.fromiter(map(len, rings), np.intp, len(rings))
    if (lengths % 2).any() or (lengths < 6).any():
        return False
    values = np.fromiter(chain.from_iterable(rings), np.float64, int(lengths.sum()))
    # Every ring's length is even, so x and y alternate across the concatenation too.
    ring_width = np.repeat(width, per_annotation)
    ring_height = np.repeat(height, per_annotation)
    xs, ys = values[0::2], values[1::2]
    return bool(
        (values >= 0).all()
        and (xs <= np.repeat(ring_width, lengths // 2)).all()
        and (ys <= np.repeat(ring_height, lengths // 2)).all()
    )


def _has_error(problems: list[Problem], since: int) -> bool:
    return any(p[4] for p in problems[since:])


def _decode(chunk: list[msgspec.Raw], start: int, problems: list[Problem], results: bool) -> list[Any]:
    try:
        return list(schema.annotations_decoder.decode(join_raw(chunk)))
    except schema.RECORD_ERRORS:
        out: list[Any] = []
        for j, raw in enumerate(chunk):
            try:
                out.append(schema.annotation_decoder.decode(raw))
            except schema.RECORD_ERRORS:
                problems.append(
                    (start + j, "annotation_type", "", "an annotation must be a JSON object.", True, None)
                )
                out.append(None)
        return out


def _field(raw: msgspec.Raw, name: str) -> Any:
    try:
        record = schema.any_decoder.decode(raw)
    except schema.RECORD_ERRORS:  # (in the segmentation: reported there)
        return schema.MISSING
    return record.get(name, schema.MISSING) if isinstance(record, dict) else schema.MISSING


def _answers(
    cat: CategoryTarget, attributes: dict[str, Any], warn: Any, unknown: Counter[tuple[str, str]]
) -> bytes | None:
    answers: dict[str, Any] = {}
    for name, value in attributes.items():
        attribute = cat.attributes.get(name) or cat.attributes.get(fold(str(name)))
        if attribute is None:
            if not (name == "rotation" and cat.obj.shape is Shape.ROTATABLE_BOUNDING_BOX):
                unknown[(cat.obj.title, str(name))] += 1
            continue
        if attribute.type is AttributeType.TEXT:
            answers[attribute.feature_node_hash] = value
            continue
        labels = value if isinstance(value, list) else [value]
        hashes = []
        for label in labels:
            options = [
                o for o in attribute.options if o.label == str(label) or fold(o.label) == fold(str(label))
            ]
            if options:
                hashes.append(options[0].feature_node_hash)
            else:
                warn(
                    "attribute_option",
                    f"attributes.{name}",
                    f"attribute {name!r} has no option {label!r}; kept only in the source record.",
                )
        if hashes:
            answers[attribute.feature_node_hash] = (
                hashes if attribute.type is AttributeType.CHECKLIST else hashes[0]
            )
    return dumps(answers) if answers else None


# -- running the pass ----------------------------------------------------------------------------

#: The context of this worker process: inherited by fork, or set by :func:`_start_worker`.
_CONTEXT: Context | None = None


def _start_worker(sent: SentContext | None) -> None:
    """Each worker's initializer. Forked workers inherit the context; spawned ones receive it."""
    global _CONTEXT
    if sent is not None:
        _CONTEXT = sent.context()
    # The importing process (which stores units and rows, one writer for the whole import) is the
    # critical path; the workers, at a lower priority, fill the time it leaves.
    os.nice(WORKER_NICENESS)


def _validate_in_worker(start: int, data: bytes | None) -> ChunkResult:
    assert _CONTEXT is not None, "the worker's context is inherited or received at start"
    try:
        chunk = None if data is None else schema.raw_list.decode(data)
        return validate_chunk(_CONTEXT, start, chunk)
    finally:
        _CONTEXT.release()


def _validate_in_process(ctx: Context, starts: range) -> Iterator[ChunkResult]:
    for start in starts:
        yield validate_chunk(ctx, start)
        ctx.release()


def _workers(total: int) -> tuple[int, str]:
    """How many worker processes to validate with (0: in-process), and how to start them.

    ``fork`` when this process runs no other thread: workers inherit the parsed file and the plan
    for free. Forking a process whose other threads may hold locks (a server's) is not safe, so
    there ``forkserver`` starts them from a clean process, and each slice travels as its bytes.
    """
    wanted = os.environ.get("LABELPORT_IMPORT_WORKERS")
    count = min(2, os.cpu_count() or 1) if wanted is None else max(0, int(wanted))
    if wanted is None and total < PARALLEL_FROM:
        count = 0  # starting workers costs more than they save
    methods = multiprocessing.get_all_start_methods()
    if threading.active_count() == 1 and "fork" in methods:
        return count, "fork"
    return (count, "forkserver") if "forkserver" in methods else (0, "")


def prepare_workers() -> Any:
    """The fork server that starts validation workers in a process running other threads (a
    server), started now if it is not running: it imports labelport once, so each worker starts
    ready. ``labelport serve`` calls this at start-up, so that its first import does not wait."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    with _bare_main():
        forkserver.ensure_running()
    return context


@contextmanager
def _bare_main() -> Iterator[None]:
    """Start fork-server workers with an empty ``__main__``: they need only labelport, and
    multiprocessing would otherwise run the host program's main script again in each of them (a
    script without a ``__name__`` guard would start its own work over)."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


class _Ahead:
    """Chunk results in order, with at most ``window`` chunks validated ahead of the writer.

    (``Pool.imap`` would run ahead without bound and hold every finished chunk in memory.) The
    first ``window`` chunks are handed to the workers at once, so they validate while the importing
    process stores the data units.
    """

    def __init__(self, pool: Any, starts: range, window: int, raws: list[msgspec.Raw] | None) -> None:
        self.pool = pool
        self.raws = raws  # sent as bytes slice by slice, to workers that do not share memory
        self.pending: deque[Any] = deque()
        self.upcoming = iter(starts)
        for start in islice(self.upcoming, window):
            self._submit(start)

    def _submit(self, start: int) -> None:
        data = None if self.raws is None else join_raw(self.raws[start : start + CHUNK])
        self.pending.append(self.pool.apply_async(_validate_in_worker, (start, data)))

    def __iter__(self) -> Iterator[ChunkResult]:
        while self.pending:
            result: ChunkResult = self.pending.popleft().get()
            following = next(self.upcoming, None)
            if following is not None:
                self._submit(following)
            yield result


class _Writer:
    """Writes row batches on a second thread, so the store works while the next batch is validated.

    At most two batches wait, which bounds memory. The first failure stops the writer; the importing
    thread raises it.
    """

    def __init__(self, session: BulkSession, release: Callable[[], None]) -> None:
        self.session = session
        self.release = release
        self.queue: queue.Queue[PlainRows | BulkRows | None] = queue.Queue(maxsize=2)
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._work, name="labelport-import-writer", daemon=True)
        self.thread.start()

    def _work(self) -> None:
        while (rows := self.queue.get()) is not None:
            if self.failure is None:
                try:
                    self.session.write(rows)
                    self.release()
                except BaseException as exc:  # handed to the importing thread, raised there
                    self.failure = exc

    def put(self, rows: PlainRows | BulkRows) -> None:
        if self.failure is not None:
            raise self.failure
        self.queue.put(rows)

    def close(self) -> BaseException | None:
        self.queue.put(None)
        self.thread.join()
        return self.failure


class Pass:
    """Validate every annotation and write the good ones, in file order.

    Used as a context manager: entering starts the validation workers (when they pay), so that
    they work while the caller stores the data units; :meth:`run` then consumes their results.

    >>> # with Pass(parsed, plan, report, "ada", None) as importer: importer.run(session, None)
    """

    def __init__(
        self, parsed: ParsedCoco, plan: Plan, report: ImportReport, user: str, confidence_field: str | None
    ) -> None:
        self.context = Context(
            parsed.annotations, plan, parsed.kind == "results", confidence_field or "score", parsed.release
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
        self.pool: Any = None
        self.ahead: _Ahead | None = None

    def __enter__(self) -> Pass:
        total = len(self.context.raws)
        workers, method = _workers(total)
        starts = range(0, total, CHUNK)
        if workers and method == "fork":
            global _CONTEXT
            _CONTEXT = self.context
            # Frozen objects are never visited by a collector, so forked workers do not copy the
            # parent's pages by collecting them (the pages stay shared, copy-on-write).
            gc.freeze()
            try:
                self.pool = multiprocessing.get_context("fork").Pool(
                    workers, initializer=_start_worker, initargs=(None,)
                )
            finally:
                gc.unfreeze()
            self.ahead = _Ahead(self.pool, starts, AHEAD_PER_WORKER * workers, None)
        elif workers:
            context = prepare_workers()
            with _bare_main():
                self.pool = context.Pool(
                    workers, initializer=_start_worker, initargs=(self.context.for_spawned_workers(),)
                )
            # slices wait as bytes here: a short queue
            self.ahead = _Ahead(self.pool, starts, SENT_AHEAD_PER_WORKER * workers, self.context.raws)
        return self

    def __exit__(self, *_exc: object) -> None:
        global _CONTEXT
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None
            _CONTEXT = None

    def run(self, session: BulkSession, progress: Progress | None, write: bool = True) -> None:
        """Validate (or collect the workers' results), assemble rows and write them (a dry run,
        ``write=False``, only counts them: existing objects are read from ``session`` all the
        same); then settle the shapes of created objects and count conversions."""
        raws = self.context.raws
        total = len(raws)
        self.report.counts.annotations = total
        existing = session.existing_keys()
        writer = _Writer(session, self.context.release) if write else None
        failure: BaseException | None = None
        try:
            chunks: Iterable[ChunkResult] = (
                self.ahead
                if self.ahead is not None
                else _validate_in_process(self.context, range(0, total, CHUNK))
            )
            self._assemble(chunks, existing, writer, progress, total)
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

    def _assemble(
        self,
        chunks: Iterable[ChunkResult],
        existing: dict[int, tuple[str, int]],
        writer: _Writer | None,
        progress: Progress | None,
        total: int,
    ) -> None:
        report, raws, prefix = self.report, self.context.raws, self.prefix
        counts = report.counts
        images = self.plan.images
        features = {cat_id: target.feature_hash for cat_id, target in self.plan.cats.items()}
        seen: dict[int, int] = {}
        tracks: dict[Any, str] = {}
        for result in chunks:
            start = result.start
            duplicates: set[int] = set()
            problems = result.problems
            ids = result.ids if result.columns is None else enumerate(result.columns[0])
            for j, ann_id in ids:
                first = seen.setdefault(ann_id, start + j)
                if first != start + j:
                    duplicates.add(j)
                    problems.append(
                        (
                            start + j,
                            "id_duplicate",
                            "id",
                            f"annotation id {ann_id} is used again (first at annotations[{first}]).",
                            True,
                            ann_id,
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
            batches: list[PlainRows | BulkRows]
            if result.columns is not None and not duplicates and not existing:
                batches = [self._clean_rows(result.columns, raws, start, images, features)]
                counts.created += len(batches[0])
            else:
                batches = self._rows(result, duplicates, existing, tracks, images, features)
            counts.imported += sum(map(len, batches))
            if writer is not None and not (report.errors and report.on_error == "fail"):
                for batch in batches:
                    writer.put(batch)
            if progress is not None:
                progress(min(start + CHUNK, total), total)

    @staticmethod
    def _clean_rows(
        columns: tuple[list[int], list[Any], list[Any]],
        raws: list[msgspec.Raw],
        start: int,
        images: dict[Any, ImageTarget],
        features: dict[Any, str],
    ) -> PlainRows:
        """A clean slice's rows, built column by column (no per-row Python code)."""
        keys, image_ids, cat_ids = columns
        targets = list(map(images.__getitem__, image_ids))
        pool = secrets.token_hex(4 * len(keys))
        return PlainRows(
            zip(
                [t.row_id for t in targets],
                [t.frame for t in targets],
                [pool[k : k + 8] for k in range(0, 8 * len(keys), 8)],
                list(map(features.__getitem__, cat_ids)),
                keys,
                raws[start : start + len(keys)],
                strict=True,
            )
        )

    def _rows(
        self,
        result: ChunkResult,
        duplicates: set[int],
        existing: dict[int, tuple[str, int]],
        tracks: dict[Any, str],
        images: dict[Any, ImageTarget],
        features: dict[Any, str],
    ) -> list[PlainRows | BulkRows]:
        """A slice's rows one by one: for re-imports (existing objects keep their hashes),
        duplicates, tracks, scores and answers. Runs of plain rows and full rows alternate."""
        counts, raws, start = self.report.counts, self.context.raws, result.start
        pending: Iterable[PendingRow] = result.rows
        if result.columns is not None:
            keys, image_ids, cat_ids = result.columns
            pending = (
                (j, key, image_id, cat_id, 1.0, 1, None, None)
                for j, (key, image_id, cat_id) in enumerate(zip(keys, image_ids, cat_ids, strict=True))
            )
        pool = secrets.token_hex(4 * CHUNK)
        batches: list[PlainRows | BulkRows] = []
        plain, full = PlainRows(), BulkRows()
        for n, (j, key, image_id, cat_id, confidence, manual, answers, track) in enumerate(pending):
            if duplicates and j in duplicates:
                counts.skipped += 1
                continue
            known = existing.get(key)
            if known is not None:
                object_hash = known[0]
                counts.updated += 1
            else:
                object_hash = pool[8 * n : 8 * n + 8]
                counts.created += 1
            if track is not None:
                object_hash = tracks.setdefault(track, object_hash)
            target = images[image_id]
            row_id, frame, feature_hash = target.row_id, target.frame, features[cat_id]
            if manual == 1 and confidence == 1.0 and answers is None:
                if full:
                    batches.append(full)
                    full = BulkRows()
                plain.append((row_id, frame, object_hash, feature_hash, key, raws[start + j]))
            else:
                if plain:
                    batches.append(plain)
                    plain = PlainRows()
                full.append(
                    (
                        row_id,
                        frame,
                        object_hash,
                        feature_hash,
                        key,
                        raws[start + j],
                        confidence,
                        manual,
                        answers,
                    )
                )
        batches.extend(batch for batch in (plain, full) if batch)
        return batches
