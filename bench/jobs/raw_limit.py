"""raw-limit: the tighter floor, adapted from ``../shared/tools/raw_limit.py``: the least a program must
do to get a COCO file's images and annotations into SQLite.

1. Read the file's bytes and decode them in one call, strictly typed (msgspec Structs for images,
   categories and annotations; each ``segmentation`` kept as ``msgspec.Raw``, its JSON bytes unparsed).
2. Open a fresh SQLite file with labelport's own settings (page_size=16384 read from
   ``labelport.store.sqlite.PAGE_SIZE``, journal_mode=WAL, synchronous=NORMAL, cache_size=-65536, as in
   src/labelport/store/sqlite.py) and create three tables: categories,
   images and annotations (id INTEGER PRIMARY KEY, image_id, category_id, bbox as four REALs, area,
   iscrowd, segmentation BLOB).
3. In ONE transaction (BEGIN IMMEDIATE ... COMMIT, the WAL checkpoint that follows included),
   ``executemany`` one row per category, image and annotation.

The cyclic garbage collector is off for the whole job. No validation, no matching, no ontology, no
label rows, no record of each annotation as it came, no secondary indexes.
"""

from __future__ import annotations

import gc
import sqlite3
import time
from pathlib import Path

import msgspec

from bench.jobs._common import Phases, emit, expect, parser

#: labelport's page size for a new store (``labelport.store.sqlite.PAGE_SIZE``; a test keeps them
#: equal). Written here rather than imported, so that the floor does not pay for importing labelport.
PAGE_SIZE = 16384


class Image(msgspec.Struct, gc=False):
    id: int
    width: int
    height: int
    file_name: str


class Category(msgspec.Struct, gc=False):
    id: int
    name: str
    supercategory: str | None = None


class Annotation(msgspec.Struct, gc=False):
    id: int
    image_id: int
    category_id: int
    bbox: tuple[float, float, float, float]
    area: float = 0.0
    iscrowd: int = 0
    segmentation: msgspec.Raw = msgspec.Raw(b"null")


class Coco(msgspec.Struct, gc=False):
    images: list[Image]
    annotations: list[Annotation]
    categories: list[Category]


SCHEMA = """
CREATE TABLE categories (id INTEGER PRIMARY KEY, name TEXT NOT NULL, supercategory TEXT);
CREATE TABLE images (id INTEGER PRIMARY KEY, file_name TEXT NOT NULL, width INTEGER NOT NULL,
    height INTEGER NOT NULL);
CREATE TABLE annotations (id INTEGER PRIMARY KEY, image_id INTEGER NOT NULL, category_id INTEGER NOT NULL,
    x REAL, y REAL, w REAL, h REAL, area REAL, iscrowd INTEGER, segmentation BLOB);
"""


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    gc.disable()
    phases = Phases()
    db_path = Path(args.workdir) / "raw-limit.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    start = time.perf_counter()
    with phases("decode"):
        coco = msgspec.json.Decoder(Coco).decode(Path(args.input).read_bytes())
    with phases("insert"):
        db = sqlite3.connect(db_path, isolation_level=None)
        db.execute(f"PRAGMA page_size={PAGE_SIZE}")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA cache_size=-65536")
        db.executescript(SCHEMA)
        db.execute("BEGIN IMMEDIATE")
        db.executemany(
            "INSERT INTO categories VALUES (?, ?, ?)",
            [(c.id, c.name, c.supercategory) for c in coco.categories],
        )
        db.executemany(
            "INSERT INTO images VALUES (?, ?, ?, ?)",
            ((i.id, i.file_name, i.width, i.height) for i in coco.images),
        )
        db.executemany(
            "INSERT INTO annotations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (a.id, a.image_id, a.category_id, *a.bbox, a.area, a.iscrowd, memoryview(a.segmentation))
                for a in coco.annotations
            ),
        )
        db.execute("COMMIT")
    work = time.perf_counter() - start
    rows = db.execute("SELECT count(*) FROM annotations").fetchone()[0]
    images = db.execute("SELECT count(*) FROM images").fetchone()[0]
    db.close()
    expect("rows inserted", rows, args.expect_annotations)
    emit(work, phases, annotations=rows, images=images, db_mib=round(db_path.stat().st_size / 2**20, 1))


if __name__ == "__main__":
    main()
