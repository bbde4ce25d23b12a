"""The ids an export writes: kept ones when free, new ones above every kept id otherwise.

Ids are whole numbers of at most 64 bits (what both stores keep as integers), or strings; ``7``,
``7.0`` and ``"7"`` are one id.

>>> allocate = Allocator([3, "7"])
>>> allocate.take(3), allocate.take(7), allocate.take(3), allocate.take(None)
(3, 7, 8, 9)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from labelport.ontology import Object

#: The bounds of a whole-number id.
ID_MIN, ID_MAX = -(2**63), 2**63 - 1


def id_fits(value: Any) -> bool:
    """An id that is a string, or a whole number of at most 64 bits.

    >>> id_fits(2299), id_fits("2299"), id_fits(2**64), id_fits(True)
    (True, True, False, False)
    """
    return type(value) is str or (type(value) is int and ID_MIN <= value <= ID_MAX)


def other_form(value: Any) -> Any:
    """The same id written the other way: ``2299`` for ``"2299"`` and back; None when there is none.

    Only the canonical spelling of a number counts ("07" and "+7" stay strings of their own).

    >>> other_form("2299"), other_form(2299), other_form("07"), other_form("cat")
    (2299, '2299', None, None)
    """
    if type(value) is int:
        return str(value)
    if type(value) is str and value.isascii() and value.lstrip("-").isdigit() and len(value) < 20:
        number = int(value)
        return number if str(number) == value and ID_MIN <= number <= ID_MAX else None
    return None


def whole_id(value: Any) -> Any:
    """A float id with no fraction (``100.0``, as tools that write every number as a float do) as
    the whole number it is, when that fits in 64 bits; any other value as it is.

    >>> whole_id(100.0), whole_id(100.5), whole_id(1e300), whole_id("7")
    (100, 100.5, 1e+300, '7')
    """
    if type(value) is float and value.is_integer() and ID_MIN <= value < ID_MAX:
        return int(value)
    return value


def numeric_id(value: Any) -> Any:
    """An id as the whole number it spells (``"7"``, ``7.0`` and ``7`` are one id), else as it is.

    >>> numeric_id("7"), numeric_id(7.0), numeric_id("07"), numeric_id("cat")
    (7, 7, '07', 'cat')
    """
    value = whole_id(value)
    if type(value) is str:
        number = other_form(value)
        return value if number is None else number
    return value


def same_id(a: Any, b: Any) -> bool:
    """Ids that are equal, or equal as numbers (``2299`` and ``"2299"``)."""
    return bool(a == b) or (a is not None and other_form(a) == b and type(a) is not type(b))


class Allocator:
    """Hands out ids: kept ones when free, new ones above every kept id otherwise."""

    def __init__(self, kept: Sequence[Any]) -> None:
        self.used: set[Any] = set()  # as numbers where they spell one: 1, 1.0 and "1" are one id
        self.next = max((n for k in kept if type(n := numeric_id(k)) is int), default=0) + 1

    def free(self, wanted: Any) -> bool:
        """Whether ``wanted`` may be kept: an id (a whole number, or a string) nobody took yet."""
        return id_fits(number := numeric_id(wanted)) and number not in self.used

    def take(self, wanted: Any) -> Any:
        """``wanted`` as it was written when it is free, else a new id."""
        if self.free(wanted):
            self.used.add(numeric_id(wanted))
            return wanted
        while self.next in self.used:
            self.next += 1
        self.used.add(self.next)
        self.next += 1
        return self.next - 1


def category_ids(objects: Sequence[Object]) -> dict[str, Any]:
    """The category id an export writes per object (feature hash): its COCO id kept when free."""
    allocate = Allocator([o.extra.get("coco", {}).get("id") for o in objects])
    kept_first = sorted(objects, key=lambda o: "coco" not in o.extra)
    ids: dict[str, Any] = {}
    for obj in kept_first:
        ids[obj.feature_node_hash] = allocate.take(obj.extra.get("coco", {}).get("id"))
    return ids
