"""Two cores for one evaluation: a piece of work started in a forked child while the caller goes on.

Only where forking is safe (one thread in the process, a store the child can open again by its
path); elsewhere the work runs in the caller, first. A child that fails leaves the work to the
caller, which then raises the real error itself.

>>> wait = started(lambda: 6 * 7, allowed=False)
>>> wait()
42
"""

from __future__ import annotations

import os
import pickle
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def may_fork() -> bool:
    """Whether forking is safe here: a POSIX system, and no other thread that a child would lose."""
    return hasattr(os, "fork") and threading.active_count() == 1


def started(work: Callable[[], T], *, allowed: bool = True) -> Callable[[], T]:
    """Start ``work`` in a forked child; the returned function waits for and returns its result."""
    if not allowed or not may_fork():
        result = work()
        return lambda: result
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: do the work, send the result, leave without running the parent's exit handlers
        code = 0
        try:
            os.close(read_end)
            data = pickle.dumps(work(), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException:
            data, code = b"", 1
        try:
            with os.fdopen(write_end, "wb") as out:
                out.write(data)
        finally:
            os._exit(code)
    os.close(write_end)

    def wait() -> T:
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(pid, 0)
        if status != 0 or not data:
            return work()  # the child failed: do it here, and let its error be raised here
        result: Any = pickle.loads(data)
        return result  # type: ignore[no-any-return]

    return wait
