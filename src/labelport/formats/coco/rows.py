"""Row assembly of a COCO import: the rows of one validated slice, ready for the writer.

Each row is a stored object: its label row and frame, its object hash (kept on a re-import, new
otherwise), its ontology object, its idempotency key and the annotation's original bytes.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from labelport.formats.coco.plan import ImageTarget
from labelport.formats.coco.slices import CHUNK, ChunkResult, PendingRow
from labelport.imports.report import Counts
from labelport.store.base import BulkRows, PlainRows


def clean_rows(
    columns: tuple[Sequence[int], Sequence[Any], Sequence[Any]],
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


def rows(
    result: ChunkResult,
    raws: list[msgspec.Raw],
    counts: Counts,
    duplicates: set[int],
    existing: dict[int, tuple[str, int]],
    tracks: dict[Any, str],
    images: dict[Any, ImageTarget],
    features: dict[Any, str],
) -> list[PlainRows | BulkRows]:
    """A slice's rows one by one: for re-imports (existing objects keep their hashes),
    duplicates, tracks, scores and answers. Runs of plain rows and full rows alternate."""
    start = result.start
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
