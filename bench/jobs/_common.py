"""What every job shares: its command line and the one JSON line it prints last on stdout."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def parser(description: str) -> argparse.ArgumentParser:
    """The arguments every job takes; a job adds its own."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--input", required=True, help="the COCO file to work on")
    ap.add_argument("--workdir", required=True, help="this scale's scratch folder, shared by the run's jobs")
    ap.add_argument("--expect-annotations", type=int, default=None, help="fail unless this many are seen")
    return ap


class Phases:
    """Named wall-clock phases, in the order they ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[f"{name}_seconds"] = round(time.perf_counter() - start, 4)


def emit(work_seconds: float, phases: Phases, **details: Any) -> None:
    """Print the job's result as the last line of stdout: the core work's seconds, phases and details."""
    result = {"work_seconds": round(work_seconds, 4), "phases": phases.seconds, **details}
    sys.stdout.flush()
    print(json.dumps(result, sort_keys=False), flush=True)


def fail(message: str) -> None:
    """Stop the job with a message the harness shows as the failure's reason."""
    print(f"FAILED: {message}", file=sys.stderr, flush=True)
    raise SystemExit(1)


def expect(name: str, actual: int, expected: int | None) -> None:
    if expected is not None and actual != expected:
        fail(f"{name}: expected {expected:,}, got {actual:,}")


def write_ed25519_key(path: Path) -> Path:
    """A new unencrypted Ed25519 key in OpenSSH format, mode 0600."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)
    return path


def open_bench_project(labelport: Any, workdir: Path, title: str) -> Any:
    """The one project titled ``title`` in the store of LABELPORT_HOME, opened with the workdir's key."""
    key = workdir / "id_ed25519"
    client = labelport.UserClient.create_with_ssh_private_key(ssh_private_key_path=key)
    projects = [p for p in client.list_projects() if p.title == title]
    if len(projects) != 1:
        fail(f"expected one project titled {title!r} in the store, found {len(projects)}")
    return client.get_project(projects[0].project_hash)
