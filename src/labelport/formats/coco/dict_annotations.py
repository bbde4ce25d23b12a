"""A COCO dict's annotations written to JSON by a forked child while the import plans.

A caller may hand ``import_coco_labels`` the dict its ``json.loads`` made, and the import stores
each annotation's JSON, so the dict is written back to JSON first, a long step during which the
second core would have nothing to do. Here a child process (forked, so it shares the dict's memory
without copying it) writes the annotations into a file in memory while this process reads the rest
of the dict, matches images and plans the categories; the import then maps the file, as it maps a
file it was given, and waits only for what the writing takes beyond the planning. When forking is
not safe (other threads run), the dict is small, or the child fails (orjson refuses what msgspec
writes), the dict is read whole here, as before.

>>> with annotations_in_child({"images": [], "annotations": [], "categories": []}) as (source, child):
...     child is None  # a small dict is read whole
True
"""

from __future__ import annotations

import mmap
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import orjson

from labelport.formats.coco import schema
from labelport.formats.coco.read import ParsedCoco, read_coco

#: Dicts with fewer annotations than this are written here (forking costs more than it saves).
CHILD_FROM = 50_000


class AnnotationsChild:
    """The annotations of ``source`` being written by a child process; :meth:`fill` waits for them."""

    def __init__(self, source: dict[str, Any]) -> None:
        self.source = source
        self.rest = {**source, "annotations": []}
        self.file: IO[bytes] = _memory_file()
        self.filled = False
        self.pid: int | None = os.fork()
        if self.pid == 0:  # the child: write the annotations, then leave without any clean-up
            code = 1
            try:
                view = memoryview(orjson.dumps(source["annotations"]))
                while view:
                    view = view[os.write(self.file.fileno(), view) :]
                code = 0
            finally:
                os._exit(code)

    @staticmethod
    def start(source: Any) -> AnnotationsChild | None:
        """A child writing ``source``'s annotations, or None when the dict is to be read whole."""
        if not (
            isinstance(source, dict)
            and isinstance(source.get("annotations"), list)
            and len(source["annotations"]) >= CHILD_FROM
            and hasattr(os, "fork")
            and threading.active_count() == 1
        ):
            return None
        try:
            return AnnotationsChild(source)
        except OSError:  # no process or temporary file to be had: read the dict whole
            return None

    def fill(self, parsed: ParsedCoco) -> None:
        """Give ``parsed`` (read from :attr:`rest`) the annotations, once the child has written
        them; read the whole dict here instead if it could not. Once: a second import attempt
        (:class:`~labelport.formats.coco.plan.ShapesLearned`) reads the same ``parsed``."""
        if self.filled:
            return
        self.filled = True
        if self._reap() == 0 and os.fstat(self.file.fileno()).st_size > 0:
            mapped = mmap.mmap(self.file.fileno(), 0, access=mmap.ACCESS_READ)
            parsed.annotations = schema.raw_list.decode(mapped)
            parsed.size_bytes += len(mapped)
            parsed.buffer = mapped
        else:
            whole = read_coco(self.source)
            parsed.annotations, parsed.buffer = whole.annotations, whole.buffer
            parsed.size_bytes = whole.size_bytes
        parsed.release()

    def _reap(self) -> int:
        """The child's exit code (waiting for it); -1 when it was reaped before."""
        if self.pid is None:
            return -1
        _, status = os.waitpid(self.pid, 0)
        self.pid = None
        return os.waitstatus_to_exitcode(status)

    def close(self) -> None:
        """Stop a child still writing (the import ended before it needed the annotations)."""
        if self.pid is not None:
            os.kill(self.pid, signal.SIGKILL)
            self._reap()
        self.file.close()


def _memory_file() -> IO[bytes]:
    """A file in memory (Linux's memfd, much faster to write than an unlinked file on the disk's
    file system), else an unlinked temporary file."""
    if hasattr(os, "memfd_create"):
        return os.fdopen(os.memfd_create("labelport-annotations"), "w+b")
    return tempfile.TemporaryFile()


@contextmanager
def annotations_in_child(source: Any) -> Iterator[tuple[Any, AnnotationsChild | None]]:
    """What to read now (the dict without its annotations, or ``source`` itself) and the child
    writing them (None when there is none); the child is stopped on leaving if still at work."""
    child = AnnotationsChild.start(source)
    try:
        yield (source if child is None else child.rest), child
    finally:
        if child is not None:
            child.close()
