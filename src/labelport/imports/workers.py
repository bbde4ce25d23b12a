"""The worker pass of an import: validate a file's records slice by slice, in worker processes when
the file is large and the machine has a second core (validation is Python work that holds the GIL).

A format hands over a :class:`Task` (what validating one slice needs, and how to do it); this module
decides how many workers pay, starts them — forked where that is safe, started by a fork server in
a process that runs other threads — and yields the slices' results in order, at most a window ahead
of the writer. Workers start before the data units are stored, so they validate meanwhile.

>>> list(in_process(_Squares(), range(0, 3)))
[0, 1, 4]
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
import threading
import types
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from multiprocessing import forkserver
from typing import Any, Protocol

#: Records in one slice.
CHUNK = 20_000
#: Files with fewer records than this are validated in-process (forking costs more than it saves).
PARALLEL_FROM = 4 * CHUNK
#: Slices each worker may validate ahead of the writer. Results are small (three columns of ids
#: as arrays, as the fast path sends them), and a deep queue keeps the workers busy while the data
#: units are stored: with a shallow one, the workers of a large import finish their window before
#: the data units are stored, and wait.
AHEAD_PER_WORKER = 32
#: The same for workers that receive each slice's bytes (a slice's bytes are large: few wait at a time).
SENT_AHEAD_PER_WORKER = 2
WORKER_NICENESS = 10


class Task(Protocol):
    """What a format's import hands the worker pass."""

    def validate(self, start: int, data: bytes | None) -> Any:
        """The result of the slice from record ``start``: read from memory (``data`` None) or from
        ``data``, the slice's bytes as :meth:`slice_bytes` gave them."""

    def release(self) -> None:
        """Let go of the input's pages read so far."""

    def slice_bytes(self, start: int) -> bytes:
        """The slice from record ``start`` as bytes, for a worker that shares no memory."""

    def for_spawned_workers(self) -> SentTask:
        """What a worker that does not inherit this process's memory needs (pickled once per worker)."""


class SentTask(Protocol):
    def task(self) -> Task:
        """The task, rebuilt in the worker."""


class _Squares:
    """A task for the docstring: a slice's result is its start squared."""

    def validate(self, start: int, data: bytes | None) -> int:
        return start * start

    def release(self) -> None:
        pass


#: The task of this worker process: inherited by fork, or set by :func:`_start_worker`.
_TASK: Task | None = None


def _start_worker(sent: SentTask | None) -> None:
    """Each worker's initializer. Forked workers inherit the task; spawned ones receive it."""
    global _TASK
    if sent is not None:
        _TASK = sent.task()
    # The importing process (which stores units and rows, one writer for the whole import) is the
    # critical path; the workers, at a lower priority, fill the time it leaves.
    os.nice(WORKER_NICENESS)


def _validate_in_worker(start: int, data: bytes | None) -> Any:
    assert _TASK is not None, "the worker's task is inherited or received at start"
    try:
        return _TASK.validate(start, data)
    finally:
        _TASK.release()


def in_process(task: Any, starts: range) -> Iterator[Any]:
    """Each slice's result, validated here, in order."""
    for start in starts:
        yield task.validate(start, None)
        task.release()


def worker_count(total: int) -> tuple[int, str]:
    """How many worker processes to validate ``total`` records with (0: in-process), and how to
    start them.

    ``fork`` when this process runs no other thread: workers inherit the parsed file and the plan
    for free. Forking a process whose other threads may hold locks (a server's) is not safe, so
    there ``forkserver`` starts them from a clean process, and each slice travels as its bytes.
    ``LABELPORT_IMPORT_WORKERS`` sets the count.
    """
    wanted = os.environ.get("LABELPORT_IMPORT_WORKERS")
    count = min(2, os.cpu_count() or 1) if wanted is None else max(0, int(wanted))
    if wanted is None and total < PARALLEL_FROM:
        count = 0  # starting workers costs more than they save
    methods = multiprocessing.get_all_start_methods()
    if threading.active_count() == 1 and "fork" in methods:
        return count, "fork"
    return (count, "forkserver") if "forkserver" in methods else (0, "")


def prepare_workers(preload: Sequence[str] = ()) -> Any:
    """The fork server that starts validation workers in a process running other threads (a
    server), started now if it is not running: it imports ``preload`` (the formats' validation
    modules) once, so each worker starts ready."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__, *preload])
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
    """Slice results in order, with at most ``window`` slices validated ahead of the writer.

    (``Pool.imap`` would run ahead without bound and hold every finished slice in memory.) The
    first ``window`` slices are handed to the workers at once, so they validate while the importing
    process stores the data units.
    """

    def __init__(self, pool: Any, starts: range, window: int, task: Task | None) -> None:
        self.pool = pool
        self.task = task  # its slices are sent as bytes, to workers that do not share memory
        self.pending: deque[Any] = deque()
        self.upcoming = iter(starts)
        for start in islice(self.upcoming, window):
            self._submit(start)

    def _submit(self, start: int) -> None:
        data = None if self.task is None else self.task.slice_bytes(start)
        self.pending.append(self.pool.apply_async(_validate_in_worker, (start, data)))

    def __iter__(self) -> Iterator[Any]:
        while self.pending:
            result = self.pending.popleft().get()
            following = next(self.upcoming, None)
            if following is not None:
                self._submit(following)
            yield result


class WorkerPass:
    """The results of every slice of ``total`` records, in order; a context manager.

    Entering starts the workers (when they pay), so that they work while the caller stores the data
    units; :meth:`results` then yields what they (or this process) found; leaving stops them.
    """

    def __init__(self, task: Task, total: int, preload: Sequence[str] = ()) -> None:
        self.task, self.total, self.preload = task, total, preload
        self.pool: Any = None
        self.ahead: _Ahead | None = None

    def __enter__(self) -> WorkerPass:
        workers, method = worker_count(self.total)
        starts = range(0, self.total, CHUNK)
        if workers and method == "fork":
            global _TASK
            _TASK = self.task
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
            context = prepare_workers(self.preload)
            with _bare_main():
                self.pool = context.Pool(
                    workers, initializer=_start_worker, initargs=(self.task.for_spawned_workers(),)
                )
            # slices wait as bytes here: a short queue
            self.ahead = _Ahead(self.pool, starts, SENT_AHEAD_PER_WORKER * workers, self.task)
        return self

    def __exit__(self, *_exc: object) -> None:
        global _TASK
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None
            _TASK = None

    def results(self) -> Iterator[Any]:
        """Each slice's result, in order: from the workers, or validated here."""
        if self.ahead is not None:
            return iter(self.ahead)
        return in_process(self.task, range(0, self.total, CHUNK))
