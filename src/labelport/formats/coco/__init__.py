"""COCO: read, validate, match, import into labels; export labels back. See the README for the rules."""

from labelport.imports.report import ImportReport, Problem

__all__ = ["ImportReport", "Problem", "prepare_import_workers"]


def prepare_import_workers() -> None:
    """Start, now, what imports validate with in a process that runs other threads (a server): the
    fork server of their worker processes, with labelport imported once so that each worker starts
    ready. ``labelport serve`` calls this at start-up, so that its first import does not wait; calling
    it again does nothing more.

    Call it before the server's threads start.
    """
    from labelport.formats.coco.annotations import prepare_workers

    prepare_workers()
