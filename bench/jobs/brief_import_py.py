"""brief-import-py: the product brief's ``import.py``, ported as the README says, run whole.

Its text is ``../shared/fixtures/seed/import.py`` with the README's import lines and the three
placeholders (key file, project id, COCO file) filled in, nothing else changed: ``json.loads`` of the
file, the category loop, ``{lr.data_title: lr for lr in project.list_label_rows_v2()}``, the image
loop, ``project.import_coco_labels(...)``. It runs on a copy of brief-setup's store (a project with
the ontology and every image, no labels) and reads brief-setup's ``brief.json``. Phases time the
script's parts (``json.loads`` and the two labelport calls are wrapped in timers; the loops are the
rest); ``labelport_seconds`` is the script without its ``json.loads(coco_file.read_text())`` (reading
and decoding the file into the script's dict), the part labelport answers for: the listing, both
loops and ``import_coco_labels``, as the issue counts it.
Freeing the script's globals (the decoded file, ~2 s at train scale) is its own phase, after the work:
it is the other half of the script's ``json.loads``.
Fails unless the report says every annotation was imported.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.datasets import REPO
from bench.jobs._common import Phases, emit, expect, fail, parser
from bench.jobs.ours_import import check_report

SCRIPT = REPO.parent / "shared" / "fixtures" / "seed" / "import.py"
PORTED_IMPORTS = (
    "from labelport import UserClient as EncordUserClient, FrameIndex\nfrom labelport import OntologyError\n"
)


def ported(script: str, key: Path, project_hash: str, coco: Path) -> str:
    """The brief's script with the README's import lines and its placeholders filled in."""
    changes = [
        (
            "from encord.utilities.coco.datastructure import FrameIndex\n"
            "from encord import EncordUserClient\n"
            "from encord.exceptions import OntologyError\n",
            PORTED_IMPORTS,
        ),
        ('"<private_key_path>"', repr(str(key))),
        ('"<project_id>"', repr(project_hash)),
        ("Path('COCOimportfile.json')", f"Path({str(coco)!r})"),
    ]
    for old, new in changes:
        if script.count(old) != 1:
            fail(f"{SCRIPT} has changed: {old!r} is not in it once")
        script = script.replace(old, new)
    return script


def timed(seconds: dict[str, float], name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start

    return wrapper


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    workdir = Path(args.workdir)
    phases = Phases()
    with phases("import_module"):
        import labelport
    key = workdir / "id_ed25519_brief"
    with phases("open_store"):
        client = labelport.UserClient.create_with_ssh_private_key(ssh_private_key_path=key)
        (record,) = [p for p in client.list_projects() if p.title == "brief"]
    text = ported(SCRIPT.read_text(), key, record.project_hash, Path(args.input))
    seconds: dict[str, float] = {}
    reports: list[Any] = []
    project_class = labelport.Project
    original_import = project_class.import_coco_labels

    def keep_report(self: Any, *a: Any, **k: Any) -> Any:
        reports.append(original_import(self, *a, **k))
        return reports[-1]

    json.loads = timed(seconds, "json_loads", json.loads)  # type: ignore[assignment]
    Path.read_text = timed(seconds, "read_text", Path.read_text)  # type: ignore[method-assign]
    project_class.list_label_rows_v2 = timed(seconds, "list", project_class.list_label_rows_v2)  # type: ignore[method-assign]
    project_class.import_coco_labels = timed(seconds, "import_coco_labels", keep_report)  # type: ignore[method-assign]
    namespace = {"__name__": "__main__"}
    start = time.perf_counter()
    exec(compile(text, str(SCRIPT), "exec"), namespace)
    work = time.perf_counter() - start
    # The script's globals hold its json.loads of the whole file; freeing them is timed apart (it
    # is the cost of the script's own decode, not of a labelport call, and a script ends with it).
    with phases("free_script_globals"):
        namespace.clear()
    (report,) = reports
    counts = check_report(report)
    expect("annotations imported", counts.imported, args.expect_annotations)
    for name, value in seconds.items():
        phases.seconds[f"{name}_seconds"] = round(value, 4)
    loops = work - sum(seconds.values())
    phases.seconds["rest_seconds"] = round(loops, 4)
    emit(
        work,
        phases,
        annotations=counts.imported,
        labelport_seconds=round(work - seconds.get("json_loads", 0.0) - seconds.get("read_text", 0.0), 4),
    )


if __name__ == "__main__":
    main()
