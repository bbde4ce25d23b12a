"""Run one job as a child process and measure it: wall time, CPU time and peak RSS of that child only.

``os.wait4`` returns the child's own resource usage (plus that of any children it waited for), so the
harness's own work never enters the numbers. A timer kills the child's process group on timeout. The
machine's busy time from ``/proc/stat`` before and after, minus the child's own CPU time, says how much
CPU everything else used meanwhile (other people's tests, the hypervisor's steal): a disturbance gauge.

``ru_maxrss`` is the largest single process: a job that forks workers (labelport's importer validates in
forked workers) uses more than that. A sampler thread therefore sums the proportional set size (PSS, so
pages shared after fork count once) of every process in the job's session every 0.2 s and keeps the peak.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Measurement:
    """What one child did: how long, how much CPU and memory, how it ended, what it printed."""

    returncode: int
    timed_out: bool
    wall_s: float
    user_s: float
    sys_s: float
    peak_rss_mib: float
    others_cpu_s: float | None = None
    tree_pss_mib: float | None = None  # sampled peak of the sum of PSS over the job's processes
    tree_processes: int = 0  # the most processes seen at once in the job's session
    result: dict[str, Any] = field(default_factory=dict)
    stderr_tail: str = ""

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class TreeSampler(threading.Thread):
    """Samples the summed PSS of all processes in one session until stopped; keeps the peak."""

    def __init__(self, session: int, interval_s: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.session = str(session)
        self.interval_s = interval_s
        self.stopped = threading.Event()
        self.peak_kib = 0
        self.most_processes = 0

    def run(self) -> None:
        while True:
            self.sample()
            if self.stopped.wait(self.interval_s):
                return

    def sample(self) -> None:
        total, count = 0, 0
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if fields[3] != self.session:  # state, ppid, pgrp, session
                    continue
                with open(f"/proc/{entry.name}/smaps_rollup") as f:
                    for line in f:
                        if line.startswith("Pss:"):
                            total += int(line.split()[1])
                            count += 1
                            break
            except (OSError, IndexError, ValueError):
                continue
        self.peak_kib = max(self.peak_kib, total)
        self.most_processes = max(self.most_processes, count)


def machine_busy_s() -> float | None:
    """CPU seconds the whole machine has been busy since boot (user, nice, system, irq, softirq, steal)."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    except (OSError, ValueError):
        return None
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(max_wait_s: float, cores: float = 0.2, sample_s: float = 1.0) -> float:
    """Wait (up to ``max_wait_s``) until the machine used under ``cores`` CPUs over one sample; return the wait."""
    start = time.monotonic()
    while time.monotonic() - start < max_wait_s:
        before = machine_busy_s()
        time.sleep(sample_s)
        after = machine_busy_s()
        if before is None or after is None or (after - before) / sample_s < cores:
            break
    return time.monotonic() - start


def _own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def last_json_line(text: str) -> dict[str, Any]:
    """The last stdout line that is a JSON object (tools such as pycocotools print before it)."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return {}


def tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def run_child(
    argv: list[str], *, cwd: Path, env: dict[str, str], timeout_s: float, log_dir: Path, name: str
) -> Measurement:
    """Run ``argv`` in its own session, wait for it with ``os.wait4``, and return its measurement."""
    log_dir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log_dir / f"{name}.stdout", log_dir / f"{name}.stderr"
    timed_out = threading.Event()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        busy_before = machine_busy_s()
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True
        )

        def on_timeout() -> None:
            timed_out.set()
            _kill_group(proc.pid)

        timer = threading.Timer(timeout_s, on_timeout)
        timer.daemon = True
        timer.start()
        sampler = TreeSampler(proc.pid)
        sampler.start()
        own_before = _own_cpu_s()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
            busy_after = machine_busy_s()
        except BaseException:
            _kill_group(proc.pid)
            proc.wait()
            raise
        finally:
            timer.cancel()
            sampler.stopped.set()
            sampler.join()
        own = _own_cpu_s() - own_before  # the harness's sampling, not the machine's other users
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; Popen must not wait again
        _kill_group(proc.pid)  # anything the job left running in its session (servers, databases)
    others = None
    if busy_before is not None and busy_after is not None:
        others = max(0.0, busy_after - busy_before - usage.ru_utime - usage.ru_stime - own)
    stdout = out_path.read_text(errors="replace")
    stderr = err_path.read_text(errors="replace")
    return Measurement(
        returncode=proc.returncode,
        timed_out=timed_out.is_set(),
        wall_s=wall,
        user_s=usage.ru_utime,
        sys_s=usage.ru_stime,
        peak_rss_mib=usage.ru_maxrss / 1024,  # Linux reports KiB
        others_cpu_s=others,
        tree_pss_mib=sampler.peak_kib / 1024 if sampler.peak_kib else None,
        tree_processes=sampler.most_processes,
        result=last_json_line(stdout),
        stderr_tail=tail(stderr),
    )
