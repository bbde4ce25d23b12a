"""The fixture of ours-import-http-pg: a PostgreSQL cluster and a labelport server, started outside the measurement.

Like a team server that is already running, the cluster (one per bench run, in a temp folder, as an
unprivileged user when the bench runs as root: ``initdb`` refuses root) and the server (a fresh database
and a fresh ``labelport serve`` for every measured run) are set up before the job's process starts and
torn down after it ends. The measured process is the client: its wall time is what a user waits for.
The server's and PostgreSQL's CPU time and the server's peak RSS (its largest process's: an import
runs in a process of its own) are read from ``/proc`` and reported with the job. PostgreSQL runs with its default (durable) settings; only where it listens is changed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.datasets import REPO
from bench.jobs._common import write_ed25519_key
from bench.measure import tail
from bench.pgcluster import PostgresCluster, find_bindir, free_port

# -- /proc -------------------------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    """``/proc/<pid>/stat`` from field 3 (state) on, or None when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def process_cpu_s(pid: int) -> float:
    """CPU seconds of a process and all its descendants: each live one's own time and that of the
    children it reaped (a server's import workers are children of its fork server, for one)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    total = sum(int(v) for v in fields[11:15]) / _TICK  # utime, stime, cutime, cstime
    return total + sum(process_cpu_s(child) for child in children(pid))


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and fields[1] == str(pid):
                found.append(int(entry.name))
    return found


def peak_rss_mib(pid: int) -> float | None:
    """VmHWM of a live process, in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def descendants(pid: int) -> list[int]:
    """A process and every live process under it (one pass over ``/proc``)."""
    kids: dict[str, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                kids.setdefault(fields[1], []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo += kids.get(str(found[-1]), [])
    return found


class TreePeak:
    """The largest VmHWM of any process under ``pid`` (itself included), sampled every ``every``
    seconds on a thread of its own until :meth:`stop`: a server's import runs in a process of its
    own, which is gone by the time the job ends."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        self.pid, self.every = pid, every
        self.peak: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="bench-tree-peak", daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        for pid in descendants(self.pid):
            rss = peak_rss_mib(pid)
            if rss is not None and (self.peak is None or rss > self.peak):
                self.peak = rss

    def _poll(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()

    def stop(self) -> float | None:
        """Stop sampling; the peak seen, in MiB (a last sample first)."""
        self._stop.set()
        self._thread.join()
        self._sample()
        return self.peak


# -- PostgreSQL --------------------------------------------------------------------------------------


def cluster_cpu_s(cluster: PostgresCluster) -> float:
    """CPU seconds of a cluster's postmaster and every backend it started."""
    return process_cpu_s(cluster.postmaster_pid())


# -- the fixture -------------------------------------------------------------------------------------


def write_key_pair(private_path: Path) -> Path:
    """A new Ed25519 key (OpenSSH, mode 0600) and its ``.pub``; returns the public key's path."""
    from labelport.keys import Identity

    write_ed25519_key(private_path)
    public_path = private_path.with_name(private_path.name + ".pub")
    public_path.write_text(f"{Identity.load(private_path).public_text} bench\n")
    return public_path


class HttpPgFixture:
    """Per measured run: a fresh database, an admin user for the job's key, a fresh server on a free port."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.cluster: PostgresCluster | None = None
        self.server: subprocess.Popen[bytes] | None = None
        self.pg_cpu_before = 0.0
        self.server_cpu_before = 0.0
        self.server_peak: TreePeak | None = None

    def _cli(self, *args: str) -> list[str]:
        return [sys.executable, "-c", "from labelport.cli import main; main()", *args]

    def before(self, workdir: Path, log_dir: Path) -> list[str]:
        """Set up; returns the job's extra arguments (``--server URL --key FILE``)."""
        if self.cluster is None:
            bindir = find_bindir()
            if bindir is None:
                raise RuntimeError("PostgreSQL's initdb and pg_ctl are not installed")
            # not under scratch: PostgreSQL's user must reach it. Durable defaults, an existing user.
            self.cluster = PostgresCluster(bindir, user_env="LABELPORT_BENCH_PG_USER", create_user=False)
            self.cluster.start()
        db = self.cluster.create_database()
        key = workdir / "id_ed25519_http"
        for path in (key, key.with_name(key.name + ".pub")):
            path.unlink(missing_ok=True)
        public = write_key_pair(key)
        added = subprocess.run(
            self._cli("user", "add", "bench", "--key", str(public), "--admin", "--db", db),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if added.returncode != 0:
            raise RuntimeError(f"labelport user add failed:\n{tail(added.stdout + added.stderr)}")
        port = free_port()
        log_dir.mkdir(parents=True, exist_ok=True)
        log = (log_dir / "server.log").open("ab")
        self.server = subprocess.Popen(
            self._cli("serve", "--db", db, "--host", "127.0.0.1", "--port", str(port)),
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 60
        while True:
            if self.server.poll() is not None:
                raise RuntimeError(f"labelport serve exited:\n{tail((log_dir / 'server.log').read_text())}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("labelport serve did not listen within 60 s") from None
                time.sleep(0.1)
        self.server_cpu_before = process_cpu_s(self.server.pid)  # its start-up is not the import's
        self.server_peak = TreePeak(self.server.pid)
        self.pg_cpu_before = cluster_cpu_s(self.cluster)
        return ["--server", f"http://127.0.0.1:{port}", "--key", str(key)]

    def after(self) -> dict[str, Any]:
        """The server's CPU and peak RSS and PostgreSQL's CPU during the run; stops the server."""
        stats: dict[str, Any] = {}
        if self.server is not None:
            pid = self.server.pid
            stats["server_cpu_s"] = round(process_cpu_s(pid) - self.server_cpu_before, 3)
            rss = self.server_peak.stop() if self.server_peak is not None else peak_rss_mib(pid)
            stats["server_peak_rss_mib"] = None if rss is None else round(rss, 1)
            if self.cluster is not None:
                stats["postgres_cpu_s"] = round(cluster_cpu_s(self.cluster) - self.pg_cpu_before, 3)
            self.stop_server()
        return stats

    def stop_server(self) -> None:
        if self.server is None:
            return
        try:
            os.killpg(self.server.pid, signal.SIGTERM)
            self.server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.server.pid, signal.SIGKILL)
            self.server.wait()
        except ProcessLookupError:
            self.server.wait()
        self.server = None

    def close(self) -> None:
        try:
            self.stop_server()
        finally:
            if self.cluster is not None:
                self.cluster.stop()
                self.cluster = None
