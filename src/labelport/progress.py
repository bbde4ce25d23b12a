"""The progress callback every long operation takes: ``progress(done, total)``.

>>> def show(done: int, total: int) -> None:
...     print(f"{done}/{total}")
>>> callback: Progress = show
>>> callback(3, 10)
3/10
"""

from __future__ import annotations

from collections.abc import Callable

#: Called with the units done so far and the total (bytes of a file, rows of an export...).
Progress = Callable[[int, int], None]
