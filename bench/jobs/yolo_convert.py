"""yolo-convert: YOLO export and import by labelport, and Datumaro's same conversion, at one scale.

labelport (in this process, measured as the job's work):
  export: ``convert_labels(coco, folder, to_format="yolo", task="detect")`` (the COCO file into a temporary store with
  validation, then the YOLO writer: data.yaml, labels/train/*.txt, images.meta);
  import: ``import_labels(folder, format="yolo", categories="create", create_missing_data_units=True)``
  into a fresh project (sizes from images.meta, as there are no image files).
Datumaro (in a child process each, so that its memory is not counted as ours):
  export: ``Dataset.import_from(coco, "coco_instances")`` then ``export(folder, "yolo", save_media=False)``;
  import: ``Dataset.import_from(folder, "yolo")`` (sizes from an images.meta written outside the timing)
  and every item iterated.
labelport's object count is checked; Datumaro's is reported (its YOLO export leaves out crowd RLE masks,
which have no box in Datumaro; labelport writes their box and counts ``mask->box``). The JSON line has each side's seconds, the ratios, and our peak RSS
(this process, before any child ran) next to Datumaro's (its children's).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from bench.jobs._common import Phases, emit, expect, fail, parser, write_ed25519_key
from bench.jobs.datumaro_import import layout

_DATUMARO = r"""
import json, sys, time
from pathlib import Path
import datumaro
mode, source, dest = sys.argv[1], sys.argv[2], sys.argv[3]
start = time.perf_counter()
if mode == "export":
    dataset = datumaro.Dataset.import_from(source, "coco_instances")
    dataset.export(dest, "yolo", save_media=False)
    count = sum(len(item.annotations) for item in dataset)
else:
    dataset = datumaro.Dataset.import_from(source, "yolo")
    dataset.init_cache()
    count = sum(len(item.annotations) for item in dataset)
print(json.dumps({"seconds": time.perf_counter() - start, "objects": count}))
"""


def _datumaro(mode: str, source: Path, dest: Path) -> dict[str, float]:
    run = subprocess.run(
        [sys.executable, "-c", _DATUMARO, mode, str(source), str(dest)],
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        fail(f"datumaro {mode} failed: {run.stderr[-2000:]}")
    result: dict[str, float] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def _datumaro_meta(folder: Path, coco: Path) -> None:
    """Datumaro's images.meta (``id height width``) for its YOLO folder: it has no image files to read."""
    doc = json.loads(coco.read_bytes())
    lines = [f"{Path(i['file_name']).stem} {i['height']} {i['width']}\n" for i in doc["images"]]
    (folder / "images.meta").write_text("".join(lines))


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    work = Path(args.workdir) / "yolo-convert"
    phases = Phases()
    with phases("import_module"):
        from labelport import UserClient
        from labelport.convert import convert_labels
    ours_folder = work / "ours"
    start = time.perf_counter()
    with phases("ours_export"):
        exported = convert_labels(
            Path(args.input), ours_folder, from_format="coco", to_format="yolo", task="detect"
        )  # boxes, as Datumaro's yolo export writes
    expect("objects written by labelport", exported.export_report.objects, args.expect_annotations)
    home = work / "home"
    with phases("ours_import"):
        key = write_ed25519_key(work / "id_ed25519")
        client = UserClient.create_with_ssh_private_key(ssh_private_key_path=key, home=home)
        project = client.create_project("yolo")
        report = project.import_labels(
            ours_folder, format="yolo", categories="create", create_missing_data_units=True
        )
    ours_seconds = time.perf_counter() - start
    expect("objects imported by labelport", report.counts.imported, args.expect_annotations)
    ours_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    coco_root = layout(Path(args.input), work)
    theirs_folder = work / "datumaro-yolo"
    with phases("datumaro_export"):
        their_export = _datumaro("export", coco_root, theirs_folder)
    _datumaro_meta(theirs_folder, Path(args.input))
    with phases("datumaro_import"):
        their_import = _datumaro("import", theirs_folder, theirs_folder)
    theirs_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    s = phases.seconds
    emit(
        ours_seconds,
        phases,
        annotations=report.counts.imported,
        ours_export_s=s["ours_export_seconds"],
        ours_import_s=s["ours_import_seconds"],
        datumaro_export_s=round(their_export["seconds"], 3),
        datumaro_import_s=round(their_import["seconds"], 3),
        datumaro_objects=int(their_import["objects"]),  # its yolo export leaves out crowd masks (no box)
        # against each Datumaro child's wall time (its interpreter start and imports included) ...
        export_ratio=round(s["ours_export_seconds"] / s["datumaro_export_seconds"], 3),
        import_ratio=round(s["ours_import_seconds"] / s["datumaro_import_seconds"], 3),
        # ... and against its own timing of the work alone
        export_ratio_in_process=round(s["ours_export_seconds"] / their_export["seconds"], 3),
        import_ratio_in_process=round(s["ours_import_seconds"] / their_import["seconds"], 3),
        ours_peak_rss_mib=round(ours_rss, 1),
        datumaro_peak_rss_mib=round(theirs_rss, 1),
    )


if __name__ == "__main__":
    main()
