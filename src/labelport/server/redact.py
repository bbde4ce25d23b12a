"""What a client is told never names the server's own folders.

An import reads its upload from a temporary folder of the server's; a reader's sentence names the
file it read there (``/tmp/labelport-import-x1/unpacked/ds/labels/a.txt line 2: ...``). Before an
answer leaves the server, :func:`for_upload` names such files as the client named them
(``ds/labels/a.txt``), and :func:`server_redact` replaces whatever else names the server's temporary folder
or working directory with ``(server)``, in every error body and import report.

>>> redact = for_upload(Path("/tmp/labelport-import-x1"))
>>> redact.text("/tmp/labelport-import-x1/unpacked/ds/data.yaml path: no such folder.")
'ds/data.yaml path: no such folder.'
>>> redact.value({"errors": [{"path": "/tmp/labelport-import-x1/c.json"}]})
{'errors': [{'path': 'c.json'}]}
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TypeVar

from labelport.errors import LabelportError

T = TypeVar("T")


class Redact:
    """Replaces each of a few path prefixes in text, longest first."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = sorted({(a, b) for a, b in pairs if len(a) > 1}, key=lambda p: -len(p[0]))

    def text(self, text: str) -> str:
        for prefix, shown in self.pairs:
            if prefix in text:
                text = text.replace(prefix, shown)
        return text

    def value(self, value: T) -> T:
        """``value`` with every string in it (keys and items of dicts and lists too) redacted."""
        if isinstance(value, str):
            return self.text(value)  # type: ignore[return-value]
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}  # type: ignore[return-value]
        if isinstance(value, (list, tuple)):
            return type(value)(self.value(v) for v in value)
        return value

    def error(self, exc: LabelportError) -> LabelportError:
        """``exc`` with its sentence, its text fields and its import report (if any) redacted, in place."""
        for key, value in list(vars(exc).items()):
            if isinstance(value, str):
                setattr(exc, key, self.text(value))
        exc.args = tuple(self.value(a) for a in exc.args)
        report = getattr(exc, "report", None)
        if report is not None and hasattr(report, "to_dict"):
            from labelport.imports.report import ImportReport

            exc.report = ImportReport.from_dict(self.value(report.to_dict()))  # type: ignore[attr-defined]
        return exc


def _forms(path: str) -> list[str]:
    """A folder as it may appear in a sentence: as given and with its links resolved."""
    return sorted({os.path.abspath(path), os.path.realpath(path)})


def for_upload(folder: Path) -> Redact:
    """The files of an upload unpacked in ``folder`` named as the client named them: a file by its
    own name, an archive's members by their path inside it (under the archive's name)."""
    pairs = []
    for form in _forms(str(folder)):
        pairs += [(f"{form}/unpacked/", ""), (f"{form}/", ""), (form, "the upload")]
    return Redact(pairs)


def server_redact() -> Redact:
    """The server's temporary folder and working directory, each as ``(server)``, in what a client reads."""
    pairs = []
    for folder in (tempfile.gettempdir(), os.getcwd()):
        pairs += [(form, "(server)") for form in _forms(folder) if form != "/"]
    return Redact(pairs)
