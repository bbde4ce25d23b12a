"""The writer thread of an import: row batches are stored while the next batch is validated.

Used as ``writer = Writer(session, release)``, then ``writer.put(rows)``, then ``failure = writer.close()``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from labelport.store.base import BulkRows, BulkSession, PlainRows

#: What the writer thread takes: a batch of rows to store, or other work on the session, done in turn.
Job = PlainRows | BulkRows | Callable[[], None]


class Writer:
    """Writes row batches on a second thread, so the store works while the next batch is validated
    (the store's driver releases the GIL while it writes).

    At most two batches wait, which bounds memory. The first failure stops the writer; the importing
    thread raises it (at the next :meth:`put`, or from :meth:`close`'s answer). ``release`` runs after
    each batch is stored (it lets go of the input's pages read so far).
    """

    def __init__(self, session: BulkSession, release: Callable[[], None]) -> None:
        self.session = session
        self.release = release
        self.queue: queue.Queue[Job | None] = queue.Queue(maxsize=2)
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._work, name="labelport-import-writer", daemon=True)
        self.thread.start()

    def _work(self) -> None:
        while (job := self.queue.get()) is not None:
            if self.failure is None:
                try:
                    if callable(job):
                        job()
                    else:
                        self.session.write(job)
                        self.release()
                except BaseException as exc:  # handed to the importing thread, raised there
                    self.failure = exc

    def put(self, job: Job) -> None:
        """Store a batch of rows, or run other work on the session (``job()``), after what came
        before; the session is the writer thread's until :meth:`close`."""
        if self.failure is not None:
            raise self.failure
        self.queue.put(job)

    def close(self) -> BaseException | None:
        self.queue.put(None)
        self.thread.join()
        return self.failure
