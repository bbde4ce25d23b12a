"""Errors as types. Every error labelport raises on purpose is a :class:`LabelportError`.

Each subclass carries the fields a caller needs (a JSON path, an id, a file) and renders one
sentence through ``str()``. Faces (the CLI, the server) catch ``LabelportError`` once and show
that sentence; they never branch on the text.

>>> str(NotFoundError("project", "abc"))
'No project with hash abc.'
"""

from __future__ import annotations

from typing import Any


class LabelportError(Exception):
    """Root of every error labelport raises on purpose."""

    #: HTTP status the server answers with; the CLI's exit code is 1 for all of them.
    status: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """The error as JSON-ready data: its type name, its sentence and its fields."""
        data: dict[str, Any] = {"error": type(self).__name__, "message": self.message}
        for key, value in vars(self).items():
            if (
                key != "message"
                and not key.startswith("_")
                and isinstance(value, (str, int, float, type(None)))
            ):
                data[key] = value
        return data


#: The JSON path of a whole document: kept in the error's ``path`` field, never shown in its sentence.
ROOT = "$"


def _where(*parts: str | None) -> str:
    """Where a problem is, for a sentence: a file, then a JSON path (the document's root is not named)."""
    return ", at ".join(p for p in parts if p and p != ROOT)


class OntologyError(LabelportError):
    """An ontology node is missing, ambiguous, or an ontology document is malformed.

    ``path`` names where in an ontology document the problem is, when it came from one, and ``file``
    the file it was read from; ``reason`` is the sentence without them.

    >>> str(OntologyError("'name' is missing.", path="objects[2]", file="animals.json"))
    "animals.json, at objects[2]: 'name' is missing."
    >>> str(OntologyError("the file must hold a JSON object, not a list.", path="$"))
    'the file must hold a JSON object, not a list.'
    """

    def __init__(self, message: str, *, path: str | None = None, file: str | None = None) -> None:
        where = _where(file, path)
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.file = file
        self.reason = message


class NotFoundError(LabelportError):
    """A project, data unit, label row, ontology or user does not exist (or is not visible)."""

    status = 404

    def __init__(self, kind: str, ident: str, *, key: str = "hash", hint: str = "") -> None:
        super().__init__(f"No {kind} with {key} {ident}" + (f" ({hint})." if hint else "."))
        self.kind = kind
        self.ident = ident


class TitleTaken(LabelportError):
    """A project title its owner already uses: titles are unique among the projects one user owns.

    >>> str(TitleTaken("val100", "0c1f"))
    "You already have a project titled 'val100' (0c1f); choose another title or rename that project."
    """

    status = 409

    def __init__(self, title: str, ident: str) -> None:
        super().__init__(
            f"You already have a project titled {title!r} ({ident}); "
            "choose another title or rename that project."
        )
        self.title = title
        self.ident = ident


class AmbiguousTitle(LabelportError):
    """A title that names more than one project the user can see; each is named by its hash.

    >>> str(AmbiguousTitle("val100", ["0c1f", "9ab2"]))
    "2 projects are titled 'val100' (0c1f, 9ab2); name one by its hash."
    """

    def __init__(self, title: str, matches: list[str]) -> None:
        super().__init__(
            f"{len(matches)} projects are titled {title!r} ({', '.join(matches)}); name one by its hash."
        )
        self.title = title
        self.matches = matches


class DataError(LabelportError):
    """A data file cannot be added: not an image, unreadable, or the wrong size."""

    def __init__(self, message: str, *, file: str | None = None) -> None:
        super().__init__(message if file is None else f"{file}: {message}")
        self.file = file


class KeyFileError(LabelportError):
    """An SSH private key cannot be read or is of a kind labelport does not accept."""

    status = 401

    def __init__(self, message: str, *, file: str | None = None) -> None:
        super().__init__(message if file is None else f"{file}: {message}")
        self.file = file


class LabelError(LabelportError):
    """A label change is invalid: wrong geometry for a shape, a frame out of range, a bad answer."""


class StoreError(LabelportError):
    """The store could not be opened or written: a wrapped sqlite3/psycopg error."""

    status = 500


class SchemaVersionError(StoreError):
    """The store was written by a newer labelport than this one."""


class CocoError(LabelportError):
    """A COCO file cannot be read at all (not JSON, wrong top-level type, unreadable file)."""

    def __init__(self, message: str, *, path: str | None = None, file: str | None = None) -> None:
        where = " ".join(part for part in (file, path) if part and part != ROOT)
        super().__init__(
            f"{where}: {message}" if where else f"the file {message}" if path == ROOT else message
        )
        self.path = path
        self.file = file


class ImportFailed(LabelportError):
    """An import found problems under ``on_error="fail"``; nothing was written.

    ``report`` is the full :class:`~labelport.imports.report.ImportReport`.
    """

    status = 422

    def __init__(self, message: str, report: Any) -> None:
        super().__init__(message)
        self.report = report


class AuthError(LabelportError):
    """A request could not be authenticated. Deliberately says nothing more."""

    status = 401

    def __init__(self, message: str = "Authentication failed.") -> None:
        super().__init__(message)


class PermissionDenied(LabelportError):
    """The acting user's role in a project does not allow this operation.

    Without a ``project_hash`` the operation is one of the whole server's, for its administrators.

    >>> str(PermissionDenied("listing the server's users"))
    "Only a server administrator may do this: listing the server's users."
    """

    status = 403

    def __init__(self, action: str, project_hash: str | None = None) -> None:
        super().__init__(
            f"Only a server administrator may do this: {action}."
            if project_hash is None
            else f"Your role in project {project_hash} does not allow {action}."
        )
        self.action = action
        self.project_hash = project_hash


class FieldError(LabelportError):
    """A value given to a call or a request cannot be taken: a text with a NUL character (which
    PostgreSQL cannot store, so neither store takes it), an unknown option, a file name too long.

    ``field`` names it (``title``, ``options.colour``, ``filename``).

    >>> str(FieldError("title", "must not contain a NUL character (\\x00)"))
    'title: must not contain a NUL character (\\x00).'
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}.")
        self.field = field


class TooLarge(LabelportError):
    """A request body is over the server's size limit."""

    status = 413


class FormatError(LabelportError):
    """A file of a labelling format (YOLO, Pascal VOC, CVAT, Label Studio) cannot be read as that format.

    ``file`` is the file, ``line`` its 1-based line for text formats, ``path`` an XPath-like element
    path for XML or a JSON path for JSON; ``code`` is stable, for programs; ``more`` counts the other
    problems found in the same pass.

    >>> str(FormatError("yolo_fields", "a box needs 5 numbers; this line has 4.", file="a.txt", line=3))
    'a.txt line 3: a box needs 5 numbers; this line has 4.'
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        path: str | None = None,
        more: int = 0,
    ) -> None:
        where = " ".join(  # the document's root ($) is kept in ``path``, not said
            part
            for part in (file, None if line is None else f"line {line}", path)
            if part is not None and part != ROOT
        )
        tail = f" (and {more:,} more problems)" if more else ""
        super().__init__(f"{where}: {message}{tail}" if where else f"{message}{tail}")
        self.code = code
        self.file = file
        self.line = line
        self.path = path
        self.more = more
        self.detail = message


class ImageError(FormatError):
    """An image file cannot be decoded: it is no image, or it is over the pixel limit
    (``code`` ``image_unreadable`` or ``image_pixels``); ``file`` names it."""
