"""A throw-away PostgreSQL cluster: the tests' (``tests/pg.py``) and the benchmark's (``bench/http_pg.py``).

The cluster lives in a temporary folder, listens on 127.0.0.1 on a free port and on a Unix socket in
its own folder, trusts local connections, and is deleted when stopped. ``initdb`` refuses to run as
root, so under root the cluster runs as an unprivileged user: the one named by the environment
variable the caller gives, else ``labelport-test`` or ``nobody`` when they exist, else (when the
caller allows it) a ``labelport-test`` system user made with ``useradd``.

>>> # cluster = PostgresCluster(find_bindir(), settings=FAST); cluster.start(); cluster.create_database()
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

from bench.measure import tail

#: For tests: no durability, many connections. The benchmark runs PostgreSQL's durable defaults.
FAST = (
    "-c max_connections=300",
    "-c fsync=off",
    "-c synchronous_commit=off",
    "-c full_page_writes=off",
)


def find_bindir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: Debian's newest, then ``pg_config``, then PATH."""
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name or 0))
    candidates = [Path(p) for p in reversed(debian)]
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if out:
            candidates.append(Path(out))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unprivileged_user(env_var: str, *, create: bool) -> str | None:
    """Who runs the cluster when we are root; None when nobody fits and ``create`` is off."""
    wanted = os.environ.get(env_var)
    for name in ([wanted] if wanted else []) + ["labelport-test", "nobody"]:
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    if not create:
        return None
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "labelport-test"],
        check=True,
    )
    return "labelport-test"


class PostgresCluster:
    """One cluster. ``url()`` names a database on it; ``create_database()`` makes a fresh one."""

    def __init__(
        self,
        bindir: Path,
        *,
        parent: Path | None = None,
        settings: tuple[str, ...] = (),
        user_env: str = "LABELPORT_TEST_PG_USER",
        create_user: bool = True,
    ) -> None:
        self.bindir = bindir
        self.settings = settings
        self.root = Path(tempfile.mkdtemp(prefix="labelport-pg-", dir=parent))
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self.user = None
        if os.geteuid() == 0:
            self.user = unprivileged_user(user_env, create=create_user)
            if self.user is None:
                shutil.rmtree(self.root, ignore_errors=True)
                raise RuntimeError(
                    f"running as root and no unprivileged user to run PostgreSQL as (set {user_env})"
                )

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            last = (
                result.stderr.strip() or result.stdout.strip() or f"exit code {result.returncode}"
            ).splitlines()[-1]
            raise RuntimeError(
                f"{args[0]} failed: {last}\n{' '.join(command)}\n{result.stdout}\n{result.stderr}\n{tail(log)}"
            )

    def start(self) -> None:
        self.sockets.mkdir()
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            for path in (self.root, self.sockets):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale"
        )
        options = " ".join(
            (
                f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.sockets}",
                *self.settings,
            )
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop and delete the cluster; ``mode="immediate"`` skips the shutdown checkpoint (throw-away data)."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        name = "lp_" + uuid.uuid4().hex[:16]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database ``create_database`` made, closing any connection still open to it."""
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
