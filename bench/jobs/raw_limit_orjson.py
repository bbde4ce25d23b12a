"""raw-limit-orjson: the first round's floor (kept for comparison; raw-limit is the tighter one).

1. Read the file's bytes and decode them in one call with the fastest decoder available (``orjson.loads``;
   ``msgspec.json.decode`` when orjson is not installed).
2. Open a fresh SQLite file with labelport's settings (journal_mode=WAL, synchronous=NORMAL,
   cache_size=-131072, as in src/labelport/store/sqlite.py) and create one table
   ``annotations(id INTEGER PRIMARY KEY, image_id INTEGER, category_id INTEGER, record BLOB)``.
3. In ONE transaction (BEGIN IMMEDIATE ... COMMIT), ``executemany`` one row per annotation:
   its id, image_id, category_id and the annotation re-encoded as JSON (``orjson.dumps``) as the blob.

The cyclic garbage collector is off for the whole job (``gc.disable()``): the decoded document holds no
cycles, and with the collector on, orjson's millions of small lists cost about 3x the decode time.
No validation, no images or categories, no secondary indexes, no ontology, no label rows.
"""

from __future__ import annotations

import gc
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.jobs._common import Phases, emit, expect, parser


def codec() -> tuple[str, Callable[[bytes], Any], Callable[[Any], bytes]]:
    """The fastest JSON decoder and encoder installed: orjson, else msgspec."""
    try:
        import orjson

        return "orjson", orjson.loads, orjson.dumps
    except ImportError:
        import msgspec

        return "msgspec", msgspec.json.decode, msgspec.json.encode


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    gc.disable()
    phases = Phases()
    with phases("import_module"):
        name, decode, encode = codec()
    db_path = Path(args.workdir) / "raw-limit-orjson.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    start = time.perf_counter()
    with phases("decode"):
        doc = decode(Path(args.input).read_bytes())
        annotations = doc["annotations"]
    with phases("insert"):
        db = sqlite3.connect(db_path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA cache_size=-131072")
        db.execute(
            "CREATE TABLE annotations "
            "(id INTEGER PRIMARY KEY, image_id INTEGER, category_id INTEGER, record BLOB)"
        )
        db.execute("BEGIN IMMEDIATE")
        db.executemany(
            "INSERT INTO annotations VALUES (?, ?, ?, ?)",
            ((a["id"], a["image_id"], a["category_id"], encode(a)) for a in annotations),
        )
        db.execute("COMMIT")
    work = time.perf_counter() - start
    rows = db.execute("SELECT count(*) FROM annotations").fetchone()[0]
    db.close()
    expect("rows inserted", rows, args.expect_annotations)
    emit(work, phases, annotations=rows, decoder=name, db_mib=round(db_path.stat().st_size / 2**20, 1))


if __name__ == "__main__":
    main()
