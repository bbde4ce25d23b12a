"""Read a COCO source (a path, ``.json.gz``, bytes, a dict or a results list) into raw sections.

>>> parsed = read_coco({"images": [], "annotations": [], "categories": []})
>>> parsed.kind, len(parsed.images)
('instances', 0)
"""

from __future__ import annotations

import gzip
import mmap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from labelport.errors import CocoError
from labelport.formats.coco import schema


@dataclass
class ParsedCoco:
    """A COCO source decoded at the top level. Each list holds the raw bytes of one record."""

    name: str
    kind: str  # "instances" or "results"
    images: list[msgspec.Raw] = field(default_factory=list)
    categories: list[msgspec.Raw] = field(default_factory=list)
    annotations: list[msgspec.Raw] = field(default_factory=list)
    info: msgspec.Raw | None = None
    licenses: msgspec.Raw | None = None
    size_bytes: int = 0
    #: the buffer the raw slices point into (bytes, or a read-only memory map); kept alive with them
    buffer: Any = b""

    def release(self) -> None:
        """Unmap the pages of a memory-mapped file that this process has read so far.

        They stay in the kernel's page cache and the next read of a record maps them again, so
        nothing is read twice from disk; but they no longer count towards this process's memory,
        which stays flat however large the file. A no-op for data that is not a mapped file.
        """
        dont_need = getattr(mmap, "MADV_DONTNEED", None)  # (not on every platform)
        if isinstance(self.buffer, mmap.mmap) and not self.buffer.closed and dont_need is not None:
            self.buffer.madvise(dont_need)


def source_bytes(source: Any) -> tuple[bytes, str]:
    """The JSON bytes of a source and a name for it (a file's name; "coco" for in-memory data)."""
    if isinstance(source, (dict, list)):
        return schema.encoder.encode(source), "coco"
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        return (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data), "coco"
    path = Path(source).expanduser()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CocoError("no such file.", file=str(path)) from None
    except IsADirectoryError:
        raise CocoError("is a directory, not a COCO file.", file=str(path)) from None
    except OSError as exc:
        raise CocoError(f"cannot be read ({exc.strerror or exc}).", file=str(path)) from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise CocoError(f"is not a valid gzip file ({exc}).", file=str(path)) from None
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    return data, name


def source_buffer(source: Any) -> tuple[Any, str]:
    """Like :func:`source_bytes`, but a plain JSON file is memory-mapped rather than read.

    The import keeps slices of its input until they are stored; mapped, those pages belong to the
    file and the kernel may drop and re-read them, so a file larger than memory still imports.
    """
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        try:
            with path.open("rb") as handle:
                if handle.read(2) != b"\x1f\x8b" and path.stat().st_size > 0:
                    return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ), path.name
        except OSError:
            pass  # source_bytes names the problem
    return source_bytes(source)


def _json_error(exc: Exception, file: str) -> CocoError:
    return CocoError(
        f"is not valid JSON: {str(exc).removeprefix('JSON is malformed: ')}.", file=file, path="$"
    )


def read_coco(source: Any) -> ParsedCoco:
    """Decode the top level of a COCO source; :class:`CocoError` when it is not COCO-shaped JSON."""
    data, name = source_buffer(source)
    where = name if name != "coco" else "the COCO data"
    start = data[:64].lstrip()[:1]
    parsed = ParsedCoco(name=name, kind="instances", size_bytes=len(data), buffer=data)
    try:
        if start == b"[":
            parsed.kind = "results"
            parsed.annotations = schema.raw_list.decode(data)
            return parsed
        if start != b"{":
            raise CocoError(
                "must hold a JSON object (a COCO file) or a list (COCO results).", file=where, path="$"
            )
        doc = schema.document_decoder.decode(data)
    except msgspec.ValidationError as exc:  # (a DecodeError too: this test comes first)
        for key in ("images", "annotations", "categories"):
            if f"at `$.{key}`" in str(exc):
                raise CocoError(f"'{key}' must be a list.", file=where, path=key) from None
        detail = str(exc).replace(" - at `$`", "").replace("`$.", "`")  # msgspec's root marker
        raise CocoError(f"is not COCO-shaped: {detail}.", file=where, path="$") from None
    except msgspec.DecodeError as exc:
        raise _json_error(exc, where) from None
    if (
        isinstance(doc.images, msgspec.UnsetType)
        or isinstance(doc.annotations, msgspec.UnsetType)
        or isinstance(doc.categories, msgspec.UnsetType)
    ):
        missing = [
            key for key in ("images", "annotations", "categories") if getattr(doc, key) is schema.MISSING
        ]
        raise CocoError(f"has no {', '.join(repr(m) for m in missing)} list.", file=where, path="$")
    parsed.images, parsed.annotations, parsed.categories = doc.images, doc.annotations, doc.categories
    parsed.info = doc.info if len(doc.info) else None
    parsed.licenses = doc.licenses if len(doc.licenses) else None
    return parsed


def join_raw(raws: list[msgspec.Raw]) -> bytes:
    """A JSON array of raw records, for one typed decode of a slice."""
    return b"[" + b",".join(raws) + b"]"
