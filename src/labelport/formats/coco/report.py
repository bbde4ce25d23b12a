"""The import report lives in :mod:`labelport.imports.report` (every format's import shares it); its
names stay importable from here."""

from labelport.imports.report import Counts, ImportReport, Problem

__all__ = ["Counts", "ImportReport", "Problem"]
