"""COCO: read, validate, match, import into labels; export labels back. See the README for the rules."""

from labelport.imports.report import ImportReport, Problem

__all__ = ["ImportReport", "Problem"]
