"""Docstrings and comments say what the code does and why, not how long it took once.

Timings measured on one machine go stale as the code changes; they belong in ``bench/results`` and
``docs/benchmarks.md``. A bound (a timeout, a constant's meaning) may keep its number, so this flags
durations written as run results: a figure with ``s``, ``ms`` or ``CPU-s``, or the word "measured",
in Python docstrings and comments and in the SQL migrations' comments.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

import labelport

SOURCE = Path(labelport.__file__).parent

#: A duration from a run ("1.3 CPU-s", "~1.6 s", "0.5 ms", "4.35 s -> 3.48 s") or the word itself.
FIGURE = re.compile(r"\d(?:[\d.,]*\d)?\s?(?:CPU-s|ms|µs|s)\b|\bmeasured\b", re.IGNORECASE)


def figures(source: str) -> list[tuple[int, str]]:
    """The (line, text) of each comment or triple-quoted string in ``source`` that quotes a figure."""
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        prose = token.type == tokenize.COMMENT or (
            token.type == tokenize.STRING and token.string.lstrip("rRbBuUfF").startswith(('"""', "'''"))
        )
        if prose and (match := FIGURE.search(token.string)):
            line = token.start[0] + token.string.count("\n", 0, match.start())
            found.append((line, match.group()))
    return found


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('"""At train scale the child takes ~1.6 s."""\n', [(1, "1.6 s")]),
        ("x = 1  # 1.3 CPU-s more in the workers\n", [(1, "1.3 CPU-s")]),
        ('def f():\n    """Write.\n\n    (0.5 ms a file)."""\n', [(4, "0.5 ms")]),
        ("# 4.35 s -> 3.48 s with larger pages\n", [(1, "4.35 s")]),
        ('"""Both ways were measured."""\n', [(1, "measured")]),
        ('message = "the clock is more than 300 seconds off"\n', []),
        ('"""Takes ``size`` bytes; 3 images a second at most."""\n', []),
        ("TIMEOUT = 30  # a bound keeps its number: seconds until the request is refused\n", []),
    ],
)
def test_figures_are_found(source: str, expected: list[tuple[int, str]]) -> None:
    assert figures(source) == expected


def sql_figures(source: str) -> list[tuple[int, str]]:
    """The (line, text) of each ``--`` comment of an SQL file that quotes a figure."""
    return [
        (number, match.group())
        for number, line in enumerate(source.splitlines(), 1)
        if "--" in line and (match := FIGURE.search(line, line.index("--")))
    ]


def test_sql_figures_are_found() -> None:
    assert sql_figures("-- a covering index\nCREATE INDEX i ON t(a);  -- from 0.37 s to 0.08 s\n") == [
        (2, "0.37 s")
    ]


def test_no_figures_in_docstrings_or_comments() -> None:
    found = [
        f"{path.relative_to(SOURCE)}:{line}: {text}"
        for path in sorted(SOURCE.rglob("*.py"))
        for line, text in figures(path.read_text(encoding="utf-8"))
    ] + [
        f"{path.relative_to(SOURCE)}:{line}: {text}"
        for path in sorted(SOURCE.rglob("*.sql"))
        for line, text in sql_figures(path.read_text(encoding="utf-8"))
    ]
    assert not found, f"benchmark figures in docstrings or comments (put them in docs/benchmarks.md): {found}"
