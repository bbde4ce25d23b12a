"""Polygon rings read straight from their JSON, for the import's fast path: every ring's numbers in
one numpy array, with no Python list or float made per ring or number.

A slice of a large file holds hundreds of thousands of polygon numbers. Decoding them as nested
lists, walking the lists into an array and freeing them would be most of what validating a clean
slice costs; here the slice's segmentations are joined, checked for shape by counting brackets, and
decoded as one flat list of floats.

>>> values, lengths, rings = polygons([b"[[1,2,3,4,5,6]]", b"[[0,0,1,0,1,1],[2,2,3,2,3,3,4,4]]"])
>>> len(values), lengths.tolist(), rings.tolist()
(20, [6, 6, 8], [1, 2])
>>> polygons([b"[[1,2,[3]]]"]) is None
True
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import numpy as np

#: JSON's whitespace
WHITESPACE = b" \t\n\r"
_SPACES = tuple(bytes([c]) for c in WHITESPACE)
#: Brackets become spaces and the joints commas: what is left is one flat list of every number.
_FLATTEN = bytes.maketrans(b"[];", b"  ,")
_numbers = msgspec.json.Decoder(list[float])
_OPEN, _CLOSE, _COMMA, _JOINT = (ord(c) for c in "[],;")


def polygons(
    segmentations: Sequence[bytes | msgspec.Raw],
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Every ring's numbers (concatenated), each ring's count of numbers, and each segmentation's count
    of rings, from segmentations that are each a JSON list of non-empty lists of numbers
    (``[[x, y, ...], ...]``, valid JSON, as the slice's decode left them); None when any is not.

    Numbers beyond float range (``1e999``) also give None, as the typed decode of the fast path does.
    """
    if not segmentations:
        return None
    text = b";".join(segmentations)
    if any(space in text for space in _SPACES):  # a file written with indents
        text = text.translate(None, WHITESPACE)
    if not (text.startswith(b"[[") and text.endswith(b"]]")):
        return None
    u = np.frombuffer(text, np.uint8)
    is_open, is_close, is_comma = u == _OPEN, u == _CLOSE, u == _COMMA
    joints = np.flatnonzero(u == _JOINT)
    # A string, an object, true, false or null anywhere fails the flat decode below, which takes
    # numbers only, so these checks may assume that only numbers, commas and brackets are left.
    # Each segmentation opens two brackets of its own; every other bracket must open a ring right
    # after the one before it closed ("],["). So nothing is nested deeper than a ring, and (each
    # segmentation ending "]]") no number stands outside one.
    if (
        len(joints) != len(segmentations) - 1
        or (is_open[:-1] & is_close[1:]).any()  # an empty ring, or an empty segmentation
        or not (is_close[joints - 1] & is_close[joints - 2] & is_open[joints + 1] & is_open[joints + 2]).all()
        or int(is_open.sum())
        != int((is_close[:-2] & is_comma[1:-1] & is_open[2:]).sum()) + 2 * len(segmentations)
    ):
        return None
    try:
        numbers = _numbers.decode(b"[" + text.translate(_FLATTEN) + b"]")
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    values = np.fromiter(numbers, np.float64, len(numbers))
    opens = np.flatnonzero(is_open[:-1] & ~is_open[1:])  # a ring's "[": a number follows
    closes = np.flatnonzero(is_close[1:] & ~is_close[:-1]) + 1  # its "]": a number before
    if len(opens) != len(closes):
        return None
    commas = np.flatnonzero(is_comma)
    lengths = np.searchsorted(commas, closes) - np.searchsorted(commas, opens) + 1
    if int(lengths.sum()) != len(values):
        return None
    owner = np.searchsorted(joints, opens)
    per_segmentation = np.bincount(owner, minlength=len(segmentations))
    return values, lengths, per_segmentation
