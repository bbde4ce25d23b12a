"""Chunked uploads of COCO files: where the chunks wait, and how they become a file again.

A client sends a COCO file gzip-compressed, in chunks of a few MiB; the server keeps them where every
server process can read them, and at import time decompresses them into a temporary file. On
PostgreSQL the chunks live in the database, in the ``uploads`` and ``upload_chunks`` tables
(:class:`DatabaseUploads`, through the store's :meth:`~labelport.store.base.LabelStore.server_tables`);
next to a SQLite file they live in a folder beside it (:class:`FileUploads`), which every process on
that machine shares. :func:`uploads_for` picks one.

>>> import gzip, io
>>> out = io.BytesIO()
>>> gunzip_chunks([gzip.compress(b'{"images": []}')], out, limit=1024)
14
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol, cast

from isal import isal_zlib  # zlib's formats, about twice as fast to inflate (ISA-L)

from labelport.errors import FieldError, LabelportError, TooLarge
from labelport.limits import LABEL_FILE_SUFFIXES, MAX_LABEL_FILE_BYTES
from labelport.plural import plural
from labelport.store.base import LabelStore, ServerTables
from labelport.store.rows import check_texts

#: Decompress at most this much at a time: a small gzip chunk may hold gigabytes of zeros.
_STEP = 8 * 1024 * 1024
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


class Uploads(Protocol):
    """Where upload chunks wait until their import runs."""

    def create_upload(
        self, upload_id: str, project_hash: str, user_id: int, meta: bytes, now: float, keep_seconds: float
    ) -> None: ...

    def upload_meta(self, upload_id: str, project_hash: str, user_id: int) -> bytes | None: ...

    def put_upload_chunk(self, upload_id: str, seq: int, data: bytes) -> None: ...

    def upload_chunk_count(self, upload_id: str) -> tuple[int, int]:
        """(number of chunks, highest chunk number or -1)."""
        ...

    def upload_bytes(self, upload_id: str) -> int:
        """The bytes of the chunks stored so far."""
        ...

    def upload_chunks(self, upload_id: str) -> Iterator[bytes]: ...

    def delete_upload(self, upload_id: str) -> None: ...


class DatabaseUploads:
    """Uploads in the store's database, which every server process on it shares (PostgreSQL).

    Made as ``DatabaseUploads(PostgresStore(url).server_tables())``.
    """

    def __init__(self, tables: ServerTables) -> None:
        self.tables = tables

    def create_upload(
        self, upload_id: str, project_hash: str, user_id: int, meta: bytes, now: float, keep_seconds: float
    ) -> None:
        """Start an upload; uploads older than ``keep_seconds`` (abandoned ones) are deleted."""
        self.tables.sql_write(
            ("DELETE FROM uploads WHERE created_at < ?", (now - keep_seconds,)),
            (
                "INSERT INTO uploads (upload_id, project_hash, user_id, meta, created_at) VALUES (?, ?, ?, ?, ?)",
                (upload_id, project_hash, user_id, meta, now),
            ),
        )

    def upload_meta(self, upload_id: str, project_hash: str, user_id: int) -> bytes | None:
        """The upload's metadata when it exists and belongs to this user and project."""
        row = self.tables.sql_one(
            "SELECT meta FROM uploads WHERE upload_id = ? AND project_hash = ? AND user_id = ?",
            (upload_id, project_hash, user_id),
        )
        return None if row is None else bytes(row[0])

    def put_upload_chunk(self, upload_id: str, seq: int, data: bytes) -> None:
        """Store chunk ``seq`` (sending one again replaces it)."""
        self.tables.sql_write(
            (
                "INSERT INTO upload_chunks (upload_id, seq, data) VALUES (?, ?, ?) "
                "ON CONFLICT (upload_id, seq) DO UPDATE SET data = excluded.data",
                (upload_id, seq, data),
            )
        )

    def upload_chunk_count(self, upload_id: str) -> tuple[int, int]:
        row = self.tables.sql_one(
            "SELECT COUNT(*), COALESCE(MAX(seq), -1) FROM upload_chunks WHERE upload_id = ?", (upload_id,)
        )
        assert row is not None
        return int(row[0]), int(row[1])

    def upload_bytes(self, upload_id: str) -> int:
        row = self.tables.sql_one(
            "SELECT COALESCE(SUM(octet_length(data)), 0) FROM upload_chunks WHERE upload_id = ?", (upload_id,)
        )
        assert row is not None
        return int(row[0])

    def upload_chunks(self, upload_id: str) -> Iterator[bytes]:
        """The upload's chunks in order, one at a time."""
        for (data,) in self.tables.sql_stream(
            "SELECT data FROM upload_chunks WHERE upload_id = ? ORDER BY seq", (upload_id,)
        ):
            yield bytes(data)

    def delete_upload(self, upload_id: str) -> None:
        self.tables.sql_write(("DELETE FROM uploads WHERE upload_id = ?", (upload_id,)))


def uploads_for(store: LabelStore) -> Uploads:
    """Where a server on ``store`` keeps uploads: the store's database when every server process
    shares it (PostgreSQL), else a folder beside the SQLite file.

    >>> from labelport.store.sqlite import SqliteStore
    >>> type(uploads_for(SqliteStore(":memory:"))).__name__
    'FileUploads'
    """
    tables = store.server_tables()
    if tables is not None:
        return DatabaseUploads(tables)
    if store.path is None or store.path == ":memory:":  # a store of one process: a folder of its own
        return FileUploads(Path(tempfile.gettempdir()) / f"labelport-uploads-{os.getpid()}-{id(store):x}")
    return FileUploads(Path(f"{store.path}.uploads"))


class FileUploads:
    """Uploads in a folder: one sub-folder per upload, one file per chunk.

    Made as ``FileUploads(Path("labelport.db.uploads"))``.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def _folder(self, upload_id: str) -> Path:
        if not is_upload_id(upload_id):
            raise LabelportError("an upload id is 32 hex digits.")
        return self.root / upload_id

    def create_upload(
        self, upload_id: str, project_hash: str, user_id: int, meta: bytes, now: float, keep_seconds: float
    ) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for old in self.root.iterdir():
            owner = old / "owner.json"
            try:
                if json.loads(owner.read_text())["created_at"] < now - keep_seconds:
                    shutil.rmtree(old, ignore_errors=True)
            except (OSError, ValueError, KeyError):
                continue
        folder = self._folder(upload_id)
        folder.mkdir()
        (folder / "meta").write_bytes(meta)
        owner_text = json.dumps({"project_hash": project_hash, "user_id": user_id, "created_at": now})
        (folder / "owner.json").write_text(owner_text)

    def upload_meta(self, upload_id: str, project_hash: str, user_id: int) -> bytes | None:
        folder = self._folder(upload_id)
        try:
            owner = json.loads((folder / "owner.json").read_text())
            meta = (folder / "meta").read_bytes()
        except (OSError, ValueError):
            return None
        if owner.get("project_hash") != project_hash or owner.get("user_id") != user_id:
            return None
        return meta

    def put_upload_chunk(self, upload_id: str, seq: int, data: bytes) -> None:
        folder = self._folder(upload_id)
        part = folder / f"{seq:08d}.part"
        part.write_bytes(data)
        part.replace(folder / f"{seq:08d}.gz")

    def _chunk_files(self, upload_id: str) -> list[Path]:
        return sorted(self._folder(upload_id).glob("*.gz"))

    def upload_chunk_count(self, upload_id: str) -> tuple[int, int]:
        files = self._chunk_files(upload_id)
        return len(files), int(files[-1].stem) if files else -1

    def upload_bytes(self, upload_id: str) -> int:
        return sum(path.stat().st_size for path in self._chunk_files(upload_id))

    def upload_chunks(self, upload_id: str) -> Iterator[bytes]:
        for path in self._chunk_files(upload_id):
            yield path.read_bytes()

    def delete_upload(self, upload_id: str) -> None:
        shutil.rmtree(self._folder(upload_id), ignore_errors=True)


def is_upload_id(text: str) -> bool:
    """Whether ``text`` could be an upload id (so it is safe in a path or a query).

    >>> is_upload_id("../etc"), is_upload_id(new_upload_id())
    (False, True)
    """
    return _UPLOAD_ID.fullmatch(text) is not None


def new_upload_id() -> str:
    """A fresh upload id: 32 random hex digits.

    >>> len(new_upload_id())
    32
    """
    return secrets.token_hex(16)


def gunzip_chunks(chunks: Iterable[bytes], out: BinaryIO | None, *, limit: int) -> int:
    """Decompress a gzip stream arriving in chunks into ``out``; returns the bytes written.

    Several gzip members one after another are one stream, as ``gzip -d`` reads them. More than
    ``limit`` bytes of output is :class:`TooLarge`, raised as soon as the inflated bytes pass it; a
    stream that is not gzip or stops short is a :class:`LabelportError`. With ``out`` None the
    bytes are only counted (a first pass that refuses a decompression bomb before writing anything).

    >>> import gzip, io
    >>> data = gzip.compress(b"[1, 2, 3]")
    >>> gunzip_chunks([data[:5], data[5:]], io.BytesIO(), limit=100)
    9
    """
    total = 0
    for piece in _inflate(chunks):
        total += len(piece)
        if total > limit:
            raise TooLarge(f"the uploaded COCO file is over the server's limit of {plural(limit, 'byte')}.")
        if out is not None:
            out.write(piece)
    return total


#: what a corrupt gzip stream raises (ISA-L's stubs do not say its error is an exception class)
_INFLATE_ERRORS: tuple[type[BaseException], ...] = (zlib.error, cast(type[BaseException], isal_zlib.error))


def _inflate(chunks: Iterable[bytes]) -> Iterator[bytes]:
    inflater = isal_zlib.decompressobj(wbits=31)
    fed = False  # the current gzip member has had input
    try:
        for chunk in chunks:
            pending = chunk
            while True:
                fed = fed or bool(pending)
                piece = inflater.decompress(pending, _STEP)
                if piece:
                    yield piece
                if inflater.eof:  # a member ended; another may follow in the same chunk
                    pending = inflater.unused_data
                    inflater = isal_zlib.decompressobj(wbits=31)
                    fed = False
                    if not pending:
                        break
                    continue
                pending = inflater.unconsumed_tail
                if not pending and len(piece) < _STEP:  # input used up and no output held back
                    break
    except _INFLATE_ERRORS as exc:
        raise LabelportError(f"the upload is not a gzip stream ({exc}).") from None
    if fed:
        raise LabelportError("the upload ends before its gzip stream does; send it again.")


#: The longest file name (in UTF-8 bytes) that common file systems take.
MAX_NAME_BYTES = 255


def safe_file_name(name: str | None) -> str:
    """A file name a client sent, made safe to create in a temporary folder: its last part, kept
    whole (it names the import's source, as in the embedded store). A name with a NUL character, or
    over :data:`MAX_NAME_BYTES` bytes, is a :class:`FieldError` (``filename``).

    >>> safe_file_name("../../etc/passwd"), safe_file_name("train.json.gz"), safe_file_name("")
    ('passwd', 'train.json.gz', 'coco.json')
    >>> safe_file_name("😀" * 64 + ".json")
    Traceback (most recent call last):
    labelport.errors.FieldError: filename: a file name is at most 255 bytes of UTF-8, and this one is 261.
    """
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    check_texts({"filename": base})
    size = len(base.encode())
    if size > MAX_NAME_BYTES:
        raise FieldError(
            "filename",
            f"a file name is at most {plural(MAX_NAME_BYTES, 'byte')} of UTF-8, and this one is {size:,}",
        )
    return base if base not in ("", ".", "..") else "coco.json"


def unpack_archive(archive: Path, folder: Path, *, limit: int) -> None:
    """Unpack a zip archive a client sent (a YOLO or VOC folder) into ``folder``, a member at a time.

    A member named outside the folder (absolute, or with ``..``) is refused, and so is an archive
    whose files add up to more than ``limit`` bytes, or holding a label file (a name ending in one
    of :data:`~labelport.limits.LABEL_FILE_SUFFIXES`) of more than
    :data:`~labelport.limits.MAX_LABEL_FILE_BYTES`: both checked on the sizes the archive declares
    before anything is written, and again on the bytes as they inflate, in steps of a few MiB. A
    member that is a symbolic link is written as a plain file holding its target's text, so the
    folder holds no link. A member that cannot be written is one sentence naming it.
    """
    import zipfile

    _check_directory(archive)
    try:
        with zipfile.ZipFile(archive) as source:
            members = source.infolist()
            if sum(m.file_size for m in members) > limit:
                raise TooLarge(
                    f"the uploaded archive unpacks to more than the server's limit of {plural(limit, 'byte')}."
                )
            for member in members:
                _check_member(member.filename, member.file_size)
            total = 0
            for member in members:
                try:
                    total += _extract(source, member, folder, limit - total)
                except OSError as exc:  # a name too long, a file where a folder must be, ...
                    raise LabelportError(
                        f"the uploaded archive's {member.filename!r} cannot be unpacked ({exc.strerror})."
                    ) from None
    except zipfile.BadZipFile as exc:
        raise LabelportError(f"the upload is not a zip archive ({exc}).") from None


#: The most bytes of an archive's central directory (its list of members), which is read whole and
#: held as one record per member: 32 MiB lists some 400,000 files, a COCO-train YOLO folder 240,000.
MAX_ARCHIVE_DIRECTORY_BYTES = 32 * 1024 * 1024


def _check_directory(archive: Path) -> None:
    """Refuse an archive whose list of members is over :data:`MAX_ARCHIVE_DIRECTORY_BYTES`, from its
    end record, before the list is read."""
    import zipfile

    with archive.open("rb") as handle:
        end = zipfile._EndRecData(handle)  # type: ignore[attr-defined]  # (the record ZipFile reads first)
    if end is not None and end[zipfile._ECD_SIZE] > MAX_ARCHIVE_DIRECTORY_BYTES:  # type: ignore[attr-defined]
        raise TooLarge(
            f"the uploaded archive lists its files in {plural(end[zipfile._ECD_SIZE], 'byte')}; "  # type: ignore[attr-defined]
            f"the server reads at most {MAX_ARCHIVE_DIRECTORY_BYTES >> 20} MiB of such a list."
        )


def _check_member(name: str, size: int) -> None:
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
        raise LabelportError(f"the uploaded archive names a file outside itself: {name!r}.")
    if name.lower().endswith(LABEL_FILE_SUFFIXES) and size > MAX_LABEL_FILE_BYTES:
        raise TooLarge(
            f"the uploaded archive's {name!r} inflates to {plural(size, 'byte')}; a label file is at most "
            f"{MAX_LABEL_FILE_BYTES >> 20} MiB."
        )


def _extract(source: Any, member: Any, folder: Path, room: int) -> int:
    """Write one member under ``folder``, counting its bytes as they inflate; returns how many."""
    target = folder.joinpath(*[p for p in member.filename.replace("\\", "/").split("/") if p])
    if member.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with source.open(member) as inflating, target.open("wb") as out:
        while piece := inflating.read(_STEP):
            written += len(piece)
            if written > room or written > member.file_size:
                raise TooLarge(
                    f"the uploaded archive's {member.filename!r} inflates to more than it declares."
                )
            out.write(piece)
    return written
