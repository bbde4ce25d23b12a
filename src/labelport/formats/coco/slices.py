"""What validating one slice of a COCO file's annotations needs, and what it finds.

:class:`Context` is shared with forked workers by inheritance (never pickled); a worker started by a
fork server receives a :class:`SentContext` instead. :class:`ChunkResult` is one slice's outcome: the
rows to write (or, from the fast path, three columns of ids), the evidence of what each imported
annotation carried, and every problem found.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import msgspec
import numpy as np

from labelport.formats.coco.plan import CategoryTarget, ImageTarget, Plan
from labelport.imports.workers import CHUNK

__all__ = ["CHUNK", "ChunkResult", "Context", "Evidence", "PendingRow", "Problem", "SentContext"]

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
    #: (from a worker, each an int64 array when its ids are all whole numbers: see :meth:`listed`)
    columns: tuple[Sequence[int], Sequence[Any], Sequence[Any]] | None
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

    def listed(self) -> ChunkResult:
        """This result with its columns as lists of Python values, as rows are built from them (the
        fast path sends int64 arrays, small to keep and to pickle).

        >>> import numpy as np
        >>> columns = (np.array([7]), ["a"], np.array([1]))
        >>> result = ChunkResult(0, [], columns, [], [], 0, Counter(), set(), Counter(), Counter())
        >>> result.listed().columns
        ([7], ['a'], [1])
        """
        if self.columns is None:
            return self
        keys, image_ids, cat_ids = (
            c.tolist() if isinstance(c, np.ndarray) else list(c) for c in self.columns
        )
        return self._replace(columns=(keys, image_ids, cat_ids))


@dataclass
class Context:
    """What validating a chunk needs; shared with forked workers by inheritance, never pickled."""

    raws: list[msgspec.Raw]
    plan: Plan
    results: bool
    confidence_field: str
    #: lets go of the input's pages read so far (:meth:`ParsedCoco.release`)
    release: Callable[[], None] = lambda: None
    #: the buffer the records point into, and each slice's span of it (see
    #: :func:`~labelport.formats.coco.read.slice_spans`): forked workers read their slices there
    buffer: Any = None
    spans: list[tuple[int, int]] | None = None

    def for_spawned_workers(self) -> SentContext:
        """What a worker that does not inherit this process's memory needs, pickled once per worker:
        each image's size (not its target, which is slower to pickle)
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
