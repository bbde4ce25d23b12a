"""What the remote client sends for an import: its source as gzip chunks, a folder as a zip archive.

:func:`open_source` opens any COCO source (a path, bytes, a dict or a list) as a reader;
:class:`GzipChunks` cuts it into compressed pieces of about :data:`CHUNK_BYTES` and says what they
inflate to; :func:`zip_folder` packs a folder (YOLO, VOC) for the server to unpack.

>>> import gzip, io
>>> chunks = GzipChunks(io.BytesIO(b'{"images": []}'), 1024)
>>> gzip.decompress(b"".join(piece for piece, _ in chunks)), chunks.inflated
(b'{"images": []}', 14)
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from isal import isal_zlib

from labelport import errors
from labelport.server import wire_format

#: Compressed bytes per upload request.
CHUNK_BYTES = 8 * 1024 * 1024
_READ_BYTES = 1024 * 1024


def zip_folder(folder: Path, archive: Path) -> None:
    """Pack a folder into a zip archive (images stored as they are, text deflated)."""
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                text = path.suffix.lower() in (".txt", ".xml", ".json", ".yaml", ".yml")
                out.write(
                    path,
                    path.relative_to(folder).as_posix(),
                    zipfile.ZIP_DEFLATED if text else zipfile.ZIP_STORED,
                )


def open_source(source: Any) -> tuple[str | None, BinaryIO, int]:
    """(file name or None, a reader of the source's bytes, their number) for any COCO source."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        try:
            reader = path.open("rb")
            size = os.fstat(reader.fileno()).st_size
        except FileNotFoundError:
            raise errors.CocoError("no such file.", file=str(path)) from None
        except IsADirectoryError:
            raise errors.CocoError("is a directory, not a COCO file.", file=str(path)) from None
        except OSError as exc:
            raise errors.CocoError(f"cannot be read ({exc.strerror or exc}).", file=str(path)) from None
        return path.name, reader, size
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (dict, list)):
        data = wire_format.encode(source)
    else:
        raise errors.CocoError(
            f"a COCO source is a path, bytes, a dict or a list, not {type(source).__name__}."
        )
    return None, io.BytesIO(data), len(data)


class GzipChunks:
    """The reader's bytes as gzip, cut into pieces of about ``chunk_bytes``, each with the bytes read
    so far; once iterated, ``inflated`` is the bytes read when they were compressed here.

    A source that is gzip already goes as it is (the server decompresses it once, as the embedded
    import would), and ``inflated`` stays None: only the server can tell what it inflates to.
    """

    def __init__(self, reader: BinaryIO, chunk_bytes: int) -> None:
        self.reader, self.chunk_bytes = reader, chunk_bytes
        self.inflated: int | None = None

    def __iter__(self) -> Iterator[tuple[bytes, int]]:
        head = self.reader.read(2)
        already = head == b"\x1f\x8b"
        # ISA-L's level 1: gzip as zlib writes it, much faster than zlib's level 6 and still small
        compressor = None if already else isal_zlib.compressobj(1, isal_zlib.DEFLATED, 31)
        pending = bytearray()
        sent = 0
        block = head
        while True:
            if not block:
                block = self.reader.read(_READ_BYTES)
                if not block:
                    break
            sent += len(block)
            pending += block if compressor is None else compressor.compress(block)
            block = b""
            while len(pending) >= self.chunk_bytes:
                yield bytes(pending[: self.chunk_bytes]), sent
                del pending[: self.chunk_bytes]
        if compressor is not None:
            pending += compressor.flush()
            self.inflated = sent
        if pending:
            yield bytes(pending), sent
