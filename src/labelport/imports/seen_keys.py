"""The keys an import has seen so far, to find a key used twice in one file.

A dict of every key and where it was first costs some hundred bytes an annotation, which is much
memory for a large file. Keys are almost always small whole numbers, seen once:
those are kept as one byte each in a numpy array indexed by the key, with each slice's keys in file
order beside it. The first key seen again (or one that does not fit) turns the record into the dict,
built once from the slices kept, which then names every first position as before.

>>> seen = SeenKeys()
>>> seen.repeats([5, 7, 9], start=0)
[]
>>> seen.repeats([11, 7, 11], start=3)
[(1, 1), (2, 3)]
>>> seen.repeats([7], start=10, offsets=[4])  # the key at file position 14
[(0, 1)]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Keys below this are kept as bytes of an array (32 MiB at most); any other key turns on the dict.
SMALL = 1 << 25


class SeenKeys:
    """Keys seen so far in a file, in file order; see the module docstring."""

    def __init__(self) -> None:
        self._flags = np.zeros(0, np.bool_)
        self._slices: list[tuple[int, Sequence[int] | None, np.ndarray]] = []
        self._first: dict[int, int] | None = None  # the dict, once a key repeats or does not fit

    def repeats(
        self, keys: Sequence[int], start: int, offsets: Sequence[int] | None = None
    ) -> list[tuple[int, int]]:
        """Mark the keys of the slice at file position ``start`` as seen (key ``i`` at ``start + i``,
        or at ``start + offsets[i]``); return (index in ``keys``, position in the file where that key
        was first) for each key seen before."""
        if self._first is None:
            found = self._flagged(keys, start, offsets)
            if found is not None:
                return found
            self._first = self._as_dict()
        first, repeated = self._first, []
        for i, key in enumerate(keys):
            here = start + (i if offsets is None else offsets[i])
            at = first.setdefault(key, here)
            if at != here:
                repeated.append((i, at))
        return repeated

    def _flagged(
        self, keys: Sequence[int], start: int, offsets: Sequence[int] | None
    ) -> list[tuple[int, int]] | None:
        """The fast record: [] when every key is small and new (and marks them), else None."""
        column = np.fromiter(keys, np.int64, len(keys))
        if len(column) == 0:
            return []
        low, high = int(column.min()), int(column.max())
        if low < 0 or high >= SMALL or len(np.unique(column)) != len(column):
            return None
        if high >= len(self._flags):
            grown = np.zeros(max(high + 1, 2 * len(self._flags)), np.bool_)
            grown[: len(self._flags)] = self._flags
            self._flags = grown
        if self._flags[column].any():
            return None
        self._flags[column] = True
        self._slices.append((start, offsets, column))
        return []

    def _as_dict(self) -> dict[int, int]:
        first: dict[int, int] = {}
        for start, offsets, column in self._slices:
            for i, key in enumerate(column.tolist()):
                first.setdefault(key, start + (i if offsets is None else offsets[i]))
        self._flags, self._slices = np.zeros(0, np.bool_), []
        return first
