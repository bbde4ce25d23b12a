"""Two imports that create data units for the same file names, into one project at the same moment:
two embedded processes on one SQLite file, and two server processes on one PostgreSQL. Afterwards
there is one data unit per file name, and later imports of those images succeed (none is ambiguous).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from labelport import UserClient
from test_server import ServerProcess, Team, _animals

# the shared team fixture (a database and a server process on it, per module) comes from test_server
IMAGES, PER_IMAGE = 200, 10


def overlapping(first_image: int, first_id: int) -> dict[str, Any]:
    """Boxes on IMAGES images named img<first_image>.jpg onwards; annotation ids from ``first_id``."""
    names = [f"img{first_image + i:04d}.jpg" for i in range(IMAGES)]
    return {
        "images": [{"id": i + 1, "file_name": n, "width": 640, "height": 480} for i, n in enumerate(names)],
        "annotations": [
            {
                "id": first_id + i * PER_IMAGE + k,
                "image_id": i + 1,
                "category_id": 1,
                "bbox": [k, k + 1, 10, 12],
                "area": 120,
                "iscrowd": 0,
            }
            for i in range(IMAGES)
            for k in range(PER_IMAGE)
        ],
        "categories": [{"id": 1, "name": "Cat"}],
    }


def two_files(folder: Path) -> list[Path]:
    """Two files sharing half their file names (img0100..img0199), with ids of their own."""
    paths = [folder / "first.json", folder / "second.json"]
    paths[0].write_text(json.dumps(overlapping(0, 1)))
    paths[1].write_text(json.dumps(overlapping(IMAGES // 2, 1_000_000)))
    return paths


def assert_one_unit_per_title(client: UserClient, project_hash: str) -> None:
    titles = Counter(u.title for u in client.get_project(project_hash).list_data_units())
    assert len(titles) == IMAGES * 3 // 2
    assert [t for t, n in titles.items() if n > 1] == []


def assert_later_imports_succeed(client: UserClient, project_hash: str, paths: list[Path]) -> None:
    project = client.get_project(project_hash)
    for path in paths:  # again: matched, not ambiguous, and nothing new
        report = project.import_coco(path)
        assert report.written and not report.errors
        assert (report.counts.imported, report.counts.created) == (IMAGES * PER_IMAGE, 0)


EMBEDDED_IMPORT = """
import sys, time
from labelport import UserClient
key, home, project_hash, source, start = sys.argv[1:]
project = UserClient.create_with_ssh_private_key(ssh_private_key_path=key, home=home).get_project(project_hash)
time.sleep(max(0.0, float(start) - time.time()))
report = project.import_coco(source, create_missing_data_units=True)
print(report.counts.imported)
"""


def test_two_embedded_processes_create_one_unit_per_file_name(
    client: UserClient, home: Path, key_path: Path, tmp_path: Path
) -> None:
    project = client.create_project("race", ontology=_animals())
    paths = two_files(tmp_path)
    start = time.time() + 3  # both processes start importing at this moment
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                EMBEDDED_IMPORT,
                str(key_path),
                str(home),
                project.project_hash,
                str(p),
                str(start),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for p in paths
    ]
    results = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], results
    assert [out.strip() for out, _ in results] == [str(IMAGES * PER_IMAGE)] * 2
    assert_one_unit_per_title(client, project.project_hash)
    assert_later_imports_succeed(client, project.project_hash, paths)


def test_two_server_processes_create_one_unit_per_file_name(team: Team, tmp_path: Path) -> None:
    other = ServerProcess(team.db, team.folder / "race-server.log")
    key, _, _ = team.user("racer")
    clients = [
        UserClient.create_with_ssh_private_key(ssh_private_key_path=key, domain=url)
        for url in (team.server.url, other.url)
    ]
    try:
        project_hash = clients[0].create_project("race", ontology=_animals()).project_hash
        paths = two_files(tmp_path)
        ready = threading.Barrier(2)
        failures: list[BaseException] = []

        def run(n: int) -> None:
            try:
                project = clients[n].get_project(project_hash)
                ready.wait()
                report = project.import_coco(paths[n], create_missing_data_units=True)
                assert report.written and report.counts.imported == IMAGES * PER_IMAGE
            except BaseException as exc:  # reported below
                failures.append(exc)

        threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert failures == []
        assert_one_unit_per_title(clients[0], project_hash)
        assert_later_imports_succeed(clients[1], project_hash, paths)
    finally:
        for c in clients:
            c.service.close()  # type: ignore[attr-defined]
        other.stop()
