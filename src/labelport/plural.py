"""Counted nouns for messages: one place that makes "1 object" and "2 objects" agree.

>>> plural(1, "object"), plural(2, "object"), plural(1_200, "data unit")
('1 object', '2 objects', '1,200 data units')
>>> plural(2, "class", "classes"), plural(1, "more problem")
('2 classes', '1 more problem')
"""

from __future__ import annotations


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and ``noun``, in the plural (``many``, else noun + "s") unless the count is 1."""
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"
