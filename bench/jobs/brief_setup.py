"""brief-setup: the project the brief's ``import.py`` imports into, made as a platform user has it.

Writes ``<workdir>/brief.json``: the input with each image's ``image_title`` (what the script matches
on, as the platform writes it; here its ``file_name``), nothing else changed. Then, in a fresh
LABELPORT_HOME (``brief-template``): ``create_project("brief", from_coco=brief.json)`` (one object
per category) and ``project.add_data`` of every image as a data unit titled by its file name. No
labels. brief-import-py copies this store before each of its runs. Set-up only: no target.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import msgspec

from bench.jobs._common import Phases, emit, expect, parser, write_ed25519_key


class _Document(msgspec.Struct):
    images: list[dict[str, Any]]
    annotations: msgspec.Raw
    categories: msgspec.Raw
    info: msgspec.Raw = msgspec.Raw(b"{}")
    licenses: msgspec.Raw = msgspec.Raw(b"[]")


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    workdir = Path(args.workdir)
    phases = Phases()
    with phases("import_module"):
        import labelport
    start = time.perf_counter()
    with phases("write_input"):
        doc = msgspec.json.decode(Path(args.input).read_bytes(), type=_Document)
        for image in doc.images:
            image["image_title"] = image["file_name"]
        out = workdir / "brief.json"
        out.write_bytes(msgspec.json.encode(doc))
    with phases("create_project"):
        key = write_ed25519_key(workdir / "id_ed25519_brief")
        client = labelport.UserClient.create_with_ssh_private_key(ssh_private_key_path=key)
        project = client.create_project("brief", from_coco=out)
        project.add_data([(i["file_name"], i["width"], i["height"]) for i in doc.images])
    work = time.perf_counter() - start
    units = len(project.list_data_units())
    expect("data units", units, len(doc.images))
    emit(
        work, phases, data_units=units, project_hash=project.project_hash, annotations=args.expect_annotations
    )


if __name__ == "__main__":
    main()
