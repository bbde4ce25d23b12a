"""The benchmark's jobs. Each is a module run as its own process: ``python -m bench.jobs.<module> ARGS``.

A job prints one JSON line last on stdout: ``work_seconds`` (its core operation, timed in-process),
``phases`` and details such as the annotation count it saw. Jobs exit non-zero, with a reason on stderr,
when a check fails.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


def _module_missing(*modules: str) -> str | None:
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            return f"{module} does not exist yet"
    return None


def _always() -> str | None:
    return None


def _labelport_coco() -> str | None:
    return _module_missing("labelport.formats.coco.importer", "labelport.formats.coco.exporter")


def _datumaro() -> str | None:
    return _module_missing("datumaro")


def _evaluation() -> str | None:
    return _labelport_coco() or _module_missing("labelport.evaluation.run")


def _http_pg() -> str | None:
    missing = _labelport_coco() or _module_missing("labelport.server.app")
    if missing:
        return missing
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")) and not shutil.which("initdb"):
        return "PostgreSQL's initdb is not installed"
    return None


@dataclass(frozen=True)
class Job:
    """One measured job: its module, what it does, what it needs."""

    name: str
    module: str
    summary: str
    needs: tuple[str, ...] = ()
    reads: str | None = (
        None  # its input: this file of the scale's folder (another job's output), not the generated file
    )
    uses_home: bool = False  # runs with LABELPORT_HOME set to the scale's store
    home: str = "home"  # that store's folder in the scale's folder
    fresh_home: bool = False  # the store is deleted before each run
    home_from: str | None = None  # ... and copied from this folder (another job's store) before each run
    once: bool = False  # a set-up: run once whatever --repeat says
    ours: bool = False  # one of labelport's own jobs (checked for linearity)
    fixture: str | None = None  # set up and torn down around each run, outside the measurement
    preds: bool = False  # takes --preds: the scale's results list from make_preds.py
    max_images: int | None = None  # not run at larger scales (too slow, or too much memory)
    args: tuple[str, ...] = ()  # more arguments for its module
    available: Callable[[], str | None] = field(default=_always, compare=False)


JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        Job(
            "pycocotools-load",
            "pycocotools_load",
            "pycocotools.coco.COCO(path): stdlib json decode plus its indexes.",
        ),
        Job(
            "raw-limit",
            "raw_limit",
            "the tighter floor (adapted from ../shared/tools/raw_limit.py): msgspec typed decode of the file "
            "(images, categories, annotations; each segmentation kept as msgspec.Raw), garbage collector off, "
            "then executemany of one row per category, image and annotation (bbox as four REALs, the "
            "segmentation's JSON bytes as a BLOB) into a fresh SQLite file in ONE transaction with labelport's "
            "settings (page_size=16384, journal_mode=WAL, synchronous=NORMAL, cache_size=-65536); no validation, matching, "
            "ontology, label rows, kept records or secondary indexes.",
        ),
        Job(
            "raw-limit-orjson",
            "raw_limit_orjson",
            "the first round's floor, kept for comparison: orjson.loads of the file's bytes (garbage collector "
            "off), then executemany of one INSERT per annotation (id INTEGER PRIMARY KEY, image_id, "
            "category_id, orjson.dumps(annotation) as a BLOB) into a fresh SQLite file in ONE transaction "
            "(journal_mode=WAL, synchronous=NORMAL, cache_size=-131072); no images or categories.",
        ),
        Job(
            "ours-import",
            "ours_import",
            "labelport: new key, UserClient on a fresh LABELPORT_HOME, create_project(title) with an empty "
            'ontology, import_coco(path, categories="create", create_missing_data_units=True) with '
            "validation (objects and data units created from the file, one read, one pass); checks all "
            "were imported.",
            uses_home=True,
            fresh_home=True,
            ours=True,
            available=_labelport_coco,
        ),
        Job(
            "ours-export",
            "ours_export",
            "labelport: project.export_coco(out) of ours-import's project; the output's annotation count "
            "is checked against the input's.",
            needs=("ours-import",),
            uses_home=True,
            ours=True,
            available=_labelport_coco,
        ),
        Job(
            "viewer",
            "viewer",
            "labelport's web viewer over ours-import's project: the grid's first page, a class filter "
            "(most and least common class), the per-class counts, and a thumbnail with labels (first and "
            "cached); best of five, server time in-process.",
            needs=("ours-import",),
            uses_home=True,
            available=_labelport_coco,
        ),
        Job(
            "list-label-rows",
            "list_label_rows",
            "labelport: project.list_label_rows_v2() of ours-import's project (light handles: metadata, label "
            "hash, object count), then the brief's {lr.data_title: lr for lr in rows} (a phase); work s is the "
            "listing; checks a row per image and that the object counts add up to the annotations.",
            needs=("ours-import",),
            uses_home=True,
            ours=True,
            available=_labelport_coco,
        ),
        Job(
            "brief-setup",
            "brief_setup",
            "set-up for brief-import-py, no target: the input with each image's image_title (its file_name) "
            "written as brief.json; a fresh store with create_project(from_coco=brief.json) and every image "
            "added as a data unit by project.add_data; no labels.",
            uses_home=True,
            home="brief-template",
            fresh_home=True,
            once=True,
            available=_labelport_coco,
        ),
        Job(
            "brief-import-py",
            "brief_import_py",
            "labelport: the brief's import.py (../shared/fixtures/seed/import.py with the README's import lines "
            "and its three placeholders filled in) run whole on a copy of brief-setup's store: json.loads of "
            "brief.json, the category loop, list_label_rows_v2, the image loop, import_coco_labels; checks all "
            "were imported. labelport s: the script without its json.loads(coco_file.read_text()), the "
            "reading and decoding of the file into its dict.",
            needs=("brief-setup",),
            reads="brief.json",
            uses_home=True,
            home="home-brief",
            fresh_home=True,
            home_from="brief-template",
            ours=True,
            available=_labelport_coco,
        ),
        Job(
            "pycocotools-load-export",
            "pycocotools_load",
            "pycocotools.coco.COCO(path) of the file ours-export wrote.",
            needs=("ours-export",),
            reads="export.json",
        ),
        Job(
            "datumaro-import",
            "datumaro_import",
            'datumaro.Dataset.import_from(dir, "coco_instances") over a symlinked annotations/ layout, then '
            "init_cache() and every item iterated.",
            available=_datumaro,
        ),
        Job(
            "ours-import-http-pg",
            "ours_import_http_pg",
            "labelport: the same import (create_project(title), import_coco(path, "
            'categories="create", create_missing_data_units=True)) by a client over HTTP to a local '
            "`labelport serve` on a fresh "
            "PostgreSQL database (default settings), started before the client and stopped after it; wall "
            "s is the client's; CPU s adds the server's and PostgreSQL's; peak RSS is the client's.",
            ours=True,
            fixture="http-pg",
            available=_http_pg,
        ),
        Job(
            "yolo-convert",
            "yolo_convert",
            "labelport: convert_labels(coco, folder, to_format='yolo') then import_labels(folder, "
            "format='yolo') into a fresh project (the work), against Datumaro's COCO -> yolo export and yolo "
            "import (each in a child process; seconds, ratios and both peak RSS in the result).",
            available=_datumaro,
        ),
        Job(
            "pycocotools-eval",
            "pycocotools_eval",
            "pycocotools: COCO(gt), loadRes(preds), COCOeval(bbox) evaluate/accumulate/summarize, from the "
            "JSON files (run at 1/8 scale only: it takes a minute there).",
            preds=True,
            max_images=15_000,
        ),
        Job(
            "faster-coco-eval",
            "faster_coco_eval_eval",
            "faster-coco-eval: the same with its COCO and COCOeval_faster (at 1/8 and 1/2 only: at full "
            "scale it takes 13.5 GiB of the shared machine's memory).",
            preds=True,
            max_images=60_000,
            available=lambda: _module_missing("faster_coco_eval"),
        ),
        Job(
            "hotcoco-eval",
            "hotcoco_eval",
            "hotcoco (Rust): the same with its COCO and COCOeval, from the JSON files.",
            preds=True,
            available=lambda: _module_missing("hotcoco"),
        ),
        Job(
            "ours-import-preds",
            "ours_import_preds",
            'labelport: import_coco(preds, branch_name="pred") into ours-import\'s project (the setup of ours-eval).',
            needs=("ours-import",),
            uses_home=True,
            preds=True,
            available=_evaluation,
        ),
        Job(
            "ours-eval",
            "ours_eval",
            "labelport: `labelport eval bench --pred pred --json` from the store holding both branches "
            "(stored evaluations deleted first: both branches read, matched, accumulated, stored).",
            needs=("ours-import-preds",),
            uses_home=True,
            preds=True,
            ours=True,
            available=_evaluation,
        ),
        Job(
            "ours-eval-stored",
            "ours_eval",
            "labelport: the same command again on unchanged branches: the stored answer.",
            needs=("ours-eval",),
            uses_home=True,
            preds=True,
            args=("--stored",),
            available=_evaluation,
        ),
    )
}
