"""An import over HTTP into PostgreSQL runs in a process of its own, started by the import fork server.

A server runs threads, so its imports' validation workers cannot be forked from it: the fork server
starts them, and the importing thread sends each of them every slice of the file as bytes, which
they decode again (CPU time that forked workers, which share the parsed file, do not spend). A process
the fork server starts runs one thread, so an import there forks its workers, which share the parsed
file. That process opens its own connection to the database (every server process shares it, and
the import is still one transaction on one connection), runs the import as the request's user, and
sends back what the import says: each progress line, then the report, or the error, which the
server answers with exactly as if it had run the import itself (:func:`run_import_in_child`).

A SQLite store serves one request at a time from one process, so its imports stay in the server's
process (:func:`child_import_db` says which).

>>> child_import_db(__import__("labelport.store.sqlite", fromlist=["x"]).SqliteStore(":memory:")) is None
True
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection
from typing import Any, NamedTuple

from labelport.errors import LabelportError
from labelport.progress import Progress
from labelport.server.remote import error_from_dict
from labelport.server.requests import error_body, log, server_failure
from labelport.store.base import LabelStore, UserRecord

#: What the import fork server loads once, for every import process it starts (the COCO import's
#: own workers need only the validation modules).
PRELOAD = (
    "labelport.server.import_process",
    "labelport.service",
    "labelport.store.postgres",
    "labelport.formats.coco.importer",
)


def child_import_db(store: LabelStore) -> str | None:
    """The URL an import's own process opens ``store`` with: PostgreSQL's; None for any other store,
    and where there is no fork server to start the process (not POSIX): imports then run in the
    server's process."""
    from labelport.store.postgres import PostgresStore

    if not isinstance(store, PostgresStore) or "forkserver" not in multiprocessing.get_all_start_methods():
        return None
    return store.url


class ImportRequest(NamedTuple):
    """What an import's own process needs: the database, the user, and ``import_labels``'s arguments."""

    db: str
    user: UserRecord
    project_hash: str
    source: Any
    fmt: str
    options: dict[str, Any]


def run_import_in_child(request: ImportRequest, progress: Progress | None) -> dict[str, Any]:
    """``LocalService(store, user).import_labels(...)``'s report as a dict, run in a new process on
    the request's database; ``progress`` is called here as the import reports. The import's error is
    raised here as the same type with the same fields; a process that dies without a word is a
    server failure, and its transaction, rolled back with its connection, wrote nothing."""
    context = multiprocessing.get_context("forkserver")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_import_here,
        args=(request, sender),
        name="labelport-import",
    )
    child.start()
    sender.close()  # the child holds the only writing end: its end of the pipe closes when it does
    try:
        while True:
            try:
                kind, value = receiver.recv()
            except EOFError:
                log.error("an import's process (pid %s) ended before its report", child.pid)
                raise server_failure() from None
            if kind == "progress":
                if progress is not None:
                    progress(*value)
            elif kind == "report":
                return dict(value)
            else:
                body, status = value
                raise error_from_dict(body, status)
    finally:
        receiver.close()
        child.join()


def _import_here(request: ImportRequest, events: Connection) -> None:
    """The import process: run the import, send its progress, then its report or its error."""
    from labelport.server.admin import open_store
    from labelport.service import LocalService

    try:
        store = open_store(request.db)
        try:

            def progress(done: int, total: int) -> None:
                events.send(("progress", (done, total)))

            service = LocalService(store, request.user)
            report = service.import_labels(  # an upload: its reader never leaves it
                request.project_hash, request.source, request.fmt, request.options, progress, confined=True
            )
            events.send(("report", dict(report.to_dict())))
        finally:
            store.close()
    except LabelportError as exc:
        events.send(("error", (error_body(exc), exc.status)))
    except BaseException:
        log.exception("an import failed")
        failure = server_failure()
        events.send(("error", (error_body(failure), failure.status)))
    finally:
        events.close()
