"""The HTTP-into-PostgreSQL job's fixture reads the server's processes from ``/proc``."""

from __future__ import annotations

import subprocess
import sys

from bench.http_pg import TreePeak, descendants, process_cpu_s

#: A process that starts a grandchild holding 96 MiB for a moment, then ends it.
_GRANDCHILD = (
    "import subprocess, sys; subprocess.run([sys.executable, '-c', "
    "'import time; hold = bytearray(96 << 20); hold[::4096] = b\"x\" * len(hold[::4096]); time.sleep(0.8)'])"
)


def test_the_server_trees_peak_counts_a_process_gone_before_the_end() -> None:
    """An import runs in a process of its own, gone when the job ends: its peak is still the tree's."""
    parent = subprocess.Popen([sys.executable, "-c", _GRANDCHILD])
    peak = TreePeak(parent.pid, every=0.05)
    try:
        parent.wait(30)
    finally:
        found = peak.stop()
    assert found is not None and found >= 96


def test_descendants_and_their_cpu_include_grandchildren() -> None:
    spin = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'import time; time.sleep(2)'])"
    parent = subprocess.Popen([sys.executable, "-c", spin])
    try:
        for _ in range(100):
            tree = descendants(parent.pid)
            if len(tree) == 2:
                break
            subprocess.run(["sleep", "0.05"], check=True)
        assert tree[0] == parent.pid and len(tree) == 2
        assert process_cpu_s(parent.pid) > 0
    finally:
        parent.kill()
        parent.wait()
