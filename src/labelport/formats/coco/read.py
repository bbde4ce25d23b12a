"""Read a COCO source (a path, ``.json.gz``, bytes, a dict or a results list) into raw sections.

A source is never read into memory whole: a plain file is memory-mapped, and a gzip file (or a
stream such as a pipe) is inflated step by step into an unlinked temporary file that is then
mapped, so memory stays flat whatever the file holds. What a source may inflate to (or a stream
hold) is capped (:func:`max_source_bytes`, as the server caps an upload). A UTF-8 BOM is skipped,
and UTF-16 and UTF-32 files (with or without a BOM) are read as such.

>>> parsed = read_coco({"images": [], "annotations": [], "categories": []})
>>> parsed.kind, len(parsed.images)
('instances', 0)
>>> read_coco(b'\\xef\\xbb\\xbf{"images": [], "annotations": [], "categories": []}').kind
'instances'
"""

from __future__ import annotations

import bisect
import codecs
import json
import mmap
import os
import re
import stat
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import msgspec
import numpy as np
import orjson

from labelport.errors import CocoError, LabelportError
from labelport.formats.coco import schema
from labelport.plural import plural

#: The environment variable that sets :func:`max_source_bytes` for the embedded store.
MAX_BYTES_ENV = "LABELPORT_MAX_IMPORT_BYTES"
#: What a source may inflate to unless :data:`MAX_BYTES_ENV` says otherwise (the server's default).
DEFAULT_MAX_BYTES = 4 * 1024**3
#: Inflate or copy at most this much at a time: a small gzip chunk may hold gigabytes of zeros.
STEP = 8 * 1024 * 1024
_GZIP = b"\x1f\x8b"
_NOT_SPACE = re.compile(rb"[^ \t\r\n]")
_SECTIONS = ("images", "annotations", "categories")
_top_level = msgspec.json.Decoder(dict[str, msgspec.Raw])


def max_source_bytes() -> int:
    """What one COCO source may hold (inflated): ``$LABELPORT_MAX_IMPORT_BYTES``, else 4 GiB.

    >>> max_source_bytes() > 0
    True
    """
    text = os.environ.get(MAX_BYTES_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_BYTES
    if not text.isascii() or not text.isdigit() or int(text) <= 0:
        raise LabelportError(f"${MAX_BYTES_ENV} must be a whole number of bytes > 0, not {text!r}.")
    return int(text)


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


def _too_large(where: str, limit: int) -> CocoError:
    return CocoError(
        f"holds more than {plural(limit, 'byte')} of JSON, the most one import may read (set ${MAX_BYTES_ENV} "
        "to allow more).",
        file=where,
    )


def _inflate(handle: IO[bytes] | None, data: bytes, out: IO[bytes], where: str, limit: int) -> None:
    """Inflate a gzip stream (``data``, then the rest of ``handle``) into ``out``, :data:`STEP` at a
    time, stopping past ``limit``. Several members one after another are one stream, as ``gzip -d``
    reads them."""
    inflater = zlib.decompressobj(wbits=31)
    total, fed = 0, False
    try:
        while True:
            if not data and handle is not None:
                data = handle.read(STEP)
            if not data:
                break
            fed = True
            piece = inflater.decompress(data, STEP)
            total += len(piece)
            if total > limit:
                raise _too_large(where, limit)
            out.write(piece)
            if inflater.eof:  # a member ended; another may follow
                data = inflater.unused_data
                inflater, fed = zlib.decompressobj(wbits=31), False
            else:
                data = inflater.unconsumed_tail
    except zlib.error as exc:
        raise CocoError(f"is not a valid gzip file ({exc}).", file=where) from None
    if fed:
        raise CocoError("ends before its gzip stream does (the file is cut short).", file=where)


def _copy(handle: IO[bytes], out: IO[bytes], where: str, limit: int, head: bytes) -> None:
    """Copy ``head``, then a stream that has no size (a pipe, a device), into ``out``, stopping
    past ``limit``."""
    out.write(head)
    total = len(head)
    while piece := handle.read(STEP):
        total += len(piece)
        if total > limit:
            raise _too_large(where, limit)
        out.write(piece)


def _mapped(fill: Any) -> Any:
    """An unlinked temporary file written by ``fill(out)``, memory-mapped (b"" when it is empty)."""
    with tempfile.TemporaryFile(prefix="labelport-coco-") as out:
        fill(out)
        out.flush()
        if not out.tell():
            return b""
        return mmap.mmap(out.fileno(), 0, access=mmap.ACCESS_READ)


def _read_path(path: Path, limit: int) -> Any:
    where = path.name
    try:
        with path.open("rb") as handle:
            info = os.fstat(handle.fileno())
            if stat.S_ISDIR(info.st_mode):
                raise CocoError("is a directory, not a COCO file.", file=str(path))
            regular = stat.S_ISREG(info.st_mode)
            head = handle.read(2) if regular else b""
            if regular and head != _GZIP:  # its size is its own: mapped, it costs no memory
                return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if info.st_size else b""
            if not regular:
                head = handle.read(2)
            if head == _GZIP:
                return _mapped(lambda out: _inflate(handle, head, out, where, limit))
            return _mapped(lambda out: _copy(handle, out, where, limit, head))
    except FileNotFoundError:
        raise CocoError("no such file.", file=str(path)) from None
    except IsADirectoryError:
        raise CocoError("is a directory, not a COCO file.", file=str(path)) from None
    except OSError as exc:
        raise CocoError(f"cannot be read ({exc.strerror or exc}).", file=str(path)) from None


def source_buffer(source: Any, max_bytes: int | None = None) -> tuple[Any, str]:
    """The JSON of a source (bytes, or a read-only memory map) and a name for it: a file's name
    without ``.gz``; "coco" for in-memory data. Gzip data, or a stream without a size (a pipe, a
    device), that holds more than ``max_bytes`` (default :func:`max_source_bytes`) is a
    :class:`CocoError`; a plain file or bytes are as large as they are (a file is mapped, and the
    server caps what it stores before it imports).

    The import keeps slices of its input until they are stored; mapped, those pages belong to the
    file and the kernel may drop and re-read them, so a file larger than memory still imports.
    """
    limit = max_source_bytes() if max_bytes is None else max_bytes
    if isinstance(source, (dict, list)):
        data: Any = encode_document(source)
        name = "coco"
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), "coco"
        if data[:2] == _GZIP:
            gz = data
            data = _mapped(lambda out: _inflate(None, gz, out, "the COCO data", limit))
    else:
        path = Path(source).expanduser()
        data = _read_path(path, limit)
        name = path.name[:-3] if path.name.endswith(".gz") else path.name
    return _as_utf8(data, name if name != "coco" else "the COCO data"), name


def encode_document(document: dict[str, Any] | list[Any]) -> bytes:
    """A COCO document given as Python objects (a caller's ``json.loads`` of a file), as JSON.

    orjson writes a large document faster than msgspec, and the same bytes; what orjson refuses (keys that are not strings, integers beyond
    64 bits) msgspec writes.

    >>> encode_document({"images": [], "annotations": [{"id": 1, "bbox": [0.5, 1, 2, 3]}]})
    b'{"images":[],"annotations":[{"id":1,"bbox":[0.5,1,2,3]}]}'
    """
    try:
        return orjson.dumps(document)
    except TypeError:
        return schema.encoder.encode(document)


#: (BOM, encoding), longest first: UTF-32's little-endian BOM starts like UTF-16's.
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def _encoding(head: bytes) -> tuple[str, int]:
    """The encoding of JSON starting with ``head`` and its BOM's length. Without a BOM, the zero
    bytes around the first character tell UTF-16 and UTF-32 apart (RFC 4627, section 3)."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding, len(bom)
    if len(head) >= 4:
        zeros = tuple(b == 0 for b in head[:4])
        guesses = {
            (True, True, True, False): "utf-32-be",
            (False, True, True, True): "utf-32-le",
            (True, False, True, False): "utf-16-be",
            (False, True, False, True): "utf-16-le",
        }
        if zeros in guesses:
            return guesses[zeros], 0
    return "utf-8", 0


def _as_utf8(data: Any, where: str) -> Any:
    """``data`` as UTF-8 without a BOM (a copy only when it was not UTF-8 to begin with)."""
    encoding, bom = _encoding(bytes(data[:4]))
    if encoding == "utf-8":
        return data[bom:] if bom else data
    try:
        return bytes(data[bom:]).decode(encoding).encode("utf-8")
    except UnicodeDecodeError as exc:
        raise CocoError(
            f"starts like {encoding.upper()} but byte {bom + exc.start:,} is not valid {encoding.upper()}.",
            file=where,
        ) from None


def _json_error(exc: Exception, file: str) -> CocoError:
    return CocoError(
        f"is not valid JSON: {str(exc).removeprefix('JSON is malformed: ')}.", file=file, path="$"
    )


def _too_deep(file: str, path: str = "$") -> CocoError:
    return CocoError(
        "nests arrays or objects too deeply to read (COCO needs a few levels).", file=file, path=path
    )


def _not_a_list(data: Any) -> str | None:
    """The first of the three sections (in the file) that is present and not a JSON list, if any."""
    try:
        sections = schema.sections_decoder.decode(data)
    except (msgspec.DecodeError, RecursionError):
        return None
    wrong = [key for key in _SECTIONS if (raw := bytes(getattr(sections, key)).lstrip()) and raw[:1] != b"["]
    if len(wrong) > 1:  # the first in the file, as the decoder met it
        text = bytes(data)
        wrong.sort(key=lambda key: text.find(f'"{key}"'.encode()))
    return wrong[0] if wrong else None


def read_coco(source: Any, *, max_bytes: int | None = None) -> ParsedCoco:
    """Decode the top level of a COCO source; :class:`CocoError` when it is not COCO-shaped JSON."""
    data, name = source_buffer(source, max_bytes)
    where = name if name != "coco" else "the COCO data"
    first = _NOT_SPACE.search(data)
    start = data[first.start() : first.start() + 1] if first is not None else b""
    parsed = ParsedCoco(name=name, kind="instances", size_bytes=len(data), buffer=data)
    try:
        if start == b"[":
            parsed.kind = "results"
            parsed.annotations = schema.raw_list.decode(data)
            _check_utf8(parsed, where)
            return parsed
        if start != b"{":
            raise CocoError(
                "must hold a JSON object (a COCO file) or a list (COCO results).", file=where, path="$"
            )
        doc = schema.document_decoder.decode(data)
    except msgspec.ValidationError as exc:  # (a DecodeError too: this test comes first)
        key = _not_a_list(data)
        if key is not None:
            raise CocoError(f"'{key}' must be a list.", file=where, path=key) from None
        detail = str(exc).replace(" - at `$`", "").replace("`$.", "`")  # msgspec's root marker
        raise CocoError(f"is not COCO-shaped: {detail}.", file=where, path="$") from None
    except msgspec.DecodeError as exc:
        raise _json_error(exc, where) from None
    except RecursionError:
        raise _too_deep(where) from None
    if (
        isinstance(doc.images, msgspec.UnsetType)
        or isinstance(doc.annotations, msgspec.UnsetType)
        or isinstance(doc.categories, msgspec.UnsetType)
    ):
        missing = [key for key in _SECTIONS if getattr(doc, key) is schema.MISSING]
        raise CocoError(f"has no {', '.join(repr(m) for m in missing)} list.", file=where, path="$")
    twice = _key_twice(data, doc)
    if twice is not None:
        raise CocoError(
            f"has the key {twice!r} twice at the top level; which one is meant is not clear.",
            file=where,
            path=twice,
        )
    parsed.images, parsed.annotations, parsed.categories = doc.images, doc.annotations, doc.categories
    parsed.info = doc.info if len(doc.info) else None
    parsed.licenses = doc.licenses if len(doc.licenses) else None
    _check_utf8(parsed, where)
    return parsed


def _check_utf8(parsed: ParsedCoco, where: str) -> None:
    """Every byte is UTF-8: records are stored as their bytes, and one that is not UTF-8 would make
    every export of the project invalid JSON. The error names the record that holds the first bad
    byte. Steps of plain ASCII (most of a COCO file) are passed over with one numpy maximum each;
    the rest go through Python's UTF-8 decoder, which keeps a character cut between steps."""
    data = parsed.buffer
    if not len(data):
        return
    view = np.frombuffer(data, np.uint8)
    decoder = codecs.getincrementaldecoder("utf-8")()
    for start in range(0, len(data), STEP):
        held = len(decoder.getstate()[0])  # the start of a character cut by the previous step
        last = start + STEP >= len(data)
        if not held and view[start : start + STEP].max() < 0x80:
            continue
        try:
            decoder.decode(data[start : start + STEP], final=last)
        except UnicodeDecodeError as exc:
            offset = start - held + exc.start
            path, at = _record_at(parsed, offset)
            raise CocoError(
                f"holds bytes that are not UTF-8 (byte {at:,} of it: {exc.reason}).", file=where, path=path
            ) from None
    if decoder.getstate()[0]:
        path, at = _record_at(parsed, len(data) - 1)
        raise CocoError("ends inside a UTF-8 character.", file=where, path=path)


def _record_at(parsed: ParsedCoco, offset: int) -> tuple[str, int]:
    """The JSON path of the record holding byte ``offset`` of the buffer, and the byte's offset in it
    ("$" and the offset in the file when no record holds it). Records are slices of the buffer, so
    their addresses tell where each starts."""
    base = _address(parsed.buffer)
    prefix = "" if parsed.kind == "results" else "annotations"
    sections = [(prefix, parsed.annotations), ("images", parsed.images), ("categories", parsed.categories)]
    for key in ("info", "licenses"):
        raw = getattr(parsed, key)
        if raw is not None:
            sections.append((key, [raw]))
    for name, raws in sections:
        if not raws:
            continue
        starts = _Starts(raws, base)
        i = bisect.bisect_right(starts, offset) - 1
        if i >= 0 and offset < starts[i] + len(raws[i]):
            single = name in ("info", "licenses")
            return (name if single else f"{name}[{i}]"), offset - starts[i]
    return "$", offset


class _Starts:
    """Where each record starts in the buffer, computed as a binary search asks."""

    def __init__(self, raws: list[msgspec.Raw], base: int) -> None:
        self.raws, self.base = raws, base

    def __len__(self) -> int:
        return len(self.raws)

    def __getitem__(self, i: int) -> int:
        return _address(self.raws[i]) - self.base


def _address(buffer: Any) -> int:
    return int(np.frombuffer(buffer, np.uint8).ctypes.data) if len(buffer) else 0


def _key_twice(data: Any, doc: schema.Document) -> str | None:
    """A key of the top-level object that appears twice (JSON readers keep the last silently).

    Cheap in the common case: the sections' records are slices of ``data``, so only the bytes
    between them are searched for the sections' keys; when one appears there more than once, the
    top level is walked key by key, skipping each value by the length its raw bytes decoded to.
    """
    base = _address(data)
    spans = sorted(
        (_address(raws[0]) - base, _address(raws[-1]) - base + len(raws[-1]))
        for raws in (doc.images, doc.annotations, doc.categories)
        if isinstance(raws, list) and raws
    )
    gaps, at = [], 0
    for begin, end in spans:
        gaps.append(bytes(data[at:begin]))
        at = max(at, end)
    gaps.append(bytes(data[at:]))
    if all(sum(gap.count(b'"%s"' % key.encode()) for gap in gaps) <= 1 for key in _SECTIONS):
        return None
    fields = _top_level.decode(data)
    seen: set[str] = set()
    pos = _skip(data, data.find(b"{") + 1)
    while data[pos : pos + 1] == b'"':
        end = _string_end(data, pos)
        try:
            key = str(json.loads(bytes(data[pos : end + 1])))
        except ValueError:
            return None
        if key in seen:
            return key
        seen.add(key)
        pos = _skip(data, _skip(data, end + 1) + 1)  # past the colon
        pos = _skip(data, pos + len(fields[key]))
        if data[pos : pos + 1] != b",":
            # the last value ends the object; any other byte means that the raw length was that
            # of a later value with this key
            return None if data[pos : pos + 1] == b"}" else key
        pos = _skip(data, pos + 1)
    return None


def _string_end(data: Any, pos: int) -> int:
    """The index of the quote that closes the string opening at ``pos``."""
    end = pos
    while True:
        end = data.find(b'"', end + 1)
        if end < 0:
            return len(data)
        run = 0
        while data[end - 1 - run] == 0x5C:  # a backslash
            run += 1
        if run % 2 == 0:
            return int(end)


def _skip(data: Any, pos: int) -> int:
    found = _NOT_SPACE.search(data, pos)
    return int(found.start()) if found is not None else len(data)


def slice_spans(raws: list[msgspec.Raw], buffer: Any, step: int) -> list[tuple[int, int]] | None:
    """Where each slice of ``step`` consecutive records of one JSON array lies in ``buffer``: (first
    byte of its first record, end of its last), so that ``b"[" + buffer[a:b] + b"]"`` is the slice
    as a JSON array (only commas and spaces lie between the records). None when a record does not
    point into ``buffer``.

    A forked worker reads its slices this way instead of from the list of records it inherited:
    taking records from that list writes to each one's reference count, which copies the pages
    holding them into the worker (for a large file, hundreds of MiB a worker).

    >>> data = b'[{"a": 1}, {"b": 2},   {"c": 3}]'
    >>> spans = slice_spans(schema.raw_list.decode(data), data, 2)
    >>> [data[a:b] for a, b in spans]
    [b'{"a": 1}, {"b": 2}', b'{"c": 3}']
    """
    if not raws:
        return []
    starts, size = _Starts(raws, _address(buffer)), len(buffer)
    spans = []
    for start in range(0, len(raws), step):
        last = min(start + step, len(raws)) - 1
        first, end = starts[start], starts[last] + len(raws[last])
        if not 0 <= first < end <= size:
            return None
        spans.append((first, end))
    return spans


def join_raw(raws: list[msgspec.Raw]) -> bytes:
    """A JSON array of raw records, for one typed decode of a slice."""
    return b"[" + b",".join(raws) + b"]"
