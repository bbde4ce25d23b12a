"""The error policy of an import (Datumaro's ``ImportErrorPolicy``), one object instead of a string.

A reader reports each problem it finds to the policy (:meth:`ErrorPolicy.problem`). Under ``fail``
the policy collects them all and the import writes nothing; under ``skip`` it collects them and the
rest is imported. The import asks the policy, never the string, whether it may write.

>>> policy = ErrorPolicy.of("skip")
>>> policy.problem("yolo_fields", "a.txt", "four numbers.", line=2)
>>> policy.problems[0].where, policy.stops(len(policy.problems))
('a.txt line 2', False)
>>> ErrorPolicy.of("fail").stops(1), ErrorPolicy.of("fail").stops(0)
(True, False)
>>> ErrorPolicy.of("ignore")
Traceback (most recent call last):
...
labelport.errors.LabelportError: on_error must be 'fail' or 'skip', not 'ignore'.
"""

from __future__ import annotations

import msgspec

from labelport.errors import FormatError, LabelportError

#: The policies by the name every face uses (``on_error="skip"``, ``--on-error skip``).
NAMES = ("fail", "skip")


class Problem(msgspec.Struct, omit_defaults=True):
    """One problem a reader found: a stable code, where (file and line, or an element or JSON path), a sentence."""

    code: str
    file: str
    message: str
    line: int | None = None
    path: str | None = None

    @property
    def where(self) -> str:
        """``file line N`` or ``file path``, as the report's path."""
        return " ".join(
            p for p in (self.file, None if self.line is None else f"line {self.line}", self.path) if p
        )


class ErrorPolicy:
    """What an import does with the problems it finds: ``fail`` (write nothing) or ``skip`` (leave
    out what is wrong, import the rest). Either way every problem is collected and reported."""

    def __init__(self, on_error: str = "fail") -> None:
        if on_error not in NAMES:
            raise LabelportError(f"on_error must be 'fail' or 'skip', not {on_error!r}.")
        self.name = on_error
        self.problems: list[Problem] = []

    @classmethod
    def of(cls, on_error: str | ErrorPolicy) -> ErrorPolicy:
        """The policy named ``on_error`` (a fresh one, with no problems yet)."""
        return cls(on_error.name if isinstance(on_error, ErrorPolicy) else on_error)

    @property
    def on_error(self) -> str:
        """The policy's name, as the report and the wire carry it."""
        return self.name

    def stops(self, errors: int) -> bool:
        """Whether an import that found ``errors`` errors must write nothing."""
        return errors > 0 and self.name == "fail"

    def problem(
        self, code: str, file: str, message: str, *, line: int | None = None, path: str | None = None
    ) -> None:
        """Report one problem a reader found."""
        self.problems.append(Problem(code, file, message, line, path))

    def finish(self) -> None:
        """End a read: under ``fail``, raise the first problem (with how many more there are)."""
        if self.stops(len(self.problems)):
            first = self.problems[0]
            raise FormatError(
                first.code,
                first.message,
                file=first.file,
                line=first.line,
                path=first.path,
                more=len(self.problems) - 1,
            )


__all__ = ["NAMES", "ErrorPolicy", "Problem"]
