"""``labelport import`` and ``labelport export``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from labelport.cli.base import (
    State,
    json_option,
    write_bytes,
)
from labelport.errors import (
    ImportFailed,
    LabelportError,
)
from labelport.words import plural

# -- import and export -------------------------------------------------------------------------------


@click.group("import")
def import_() -> None:
    """Import labels from a file."""


@import_.command("coco")
@click.argument("project_hash", metavar="PROJECT")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--match",
    default="auto",
    show_default=True,
    metavar="auto|MAPFILE.json",
    help="How COCO images find data units: by file name, or a JSON file mapping image ids (or file names) "
    "to data hashes or [data_hash, frame].",
)
@click.option(
    "--categories",
    default="by-name",
    show_default=True,
    metavar="by-name|create|MAPFILE.json",
    help="How categories find ontology objects: by name, by name creating the missing ones, "
    "or a JSON file mapping category ids (or names) to feature hashes.",
)
@click.option(
    "--on-error",
    type=click.Choice(["fail", "skip"]),
    default="fail",
    show_default=True,
    help="fail: any problem writes nothing; skip: import everything else.",
)
@click.option("--dry-run", is_flag=True, help="Check and report; write nothing.")
@click.option("--branch", metavar="NAME", help="The branch to import onto. [default: main]")
@click.option(
    "--confidence-field", metavar="NAME", help="The annotation field holding a confidence (e.g. score)."
)
@click.option(
    "--create-missing", is_flag=True, help="Create a data unit for each COCO image that matches none."
)
@click.option("--replace", is_flag=True, help="Remove earlier labels of the matched data units first.")
@click.option(
    "--report",
    "report_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the full import report as JSON to this file.",
)
@json_option
@click.pass_obj
def import_coco(
    state: State,
    project_hash: str,
    file: Path,
    match: str,
    categories: str,
    on_error: str,
    dry_run: bool,
    branch: str | None,
    confidence_field: str | None,
    create_missing: bool,
    replace: bool,
    report_file: Path | None,
) -> None:
    """Import a COCO file (instances, keypoints or a results list); prints the import report.

    Re-importing the same file updates what it imported before instead of adding duplicates.

    \b
        labelport import coco PROJECT instances.json --dry-run
        labelport import coco PROJECT detections.json --branch model-v2 --confidence-field score
    """
    target = state.client().get_project(project_hash)
    try:
        # over HTTP the bar counts the file's bytes as they are sent; embedded, the annotations imported
        uploading = state.server is not None
        with state.progress(
            "uploading" if uploading else "importing", "bytes" if uploading else "annotations"
        ) as progress:
            report = target.import_coco(
                file,
                match=match,
                categories=categories,
                on_error=on_error,
                dry_run=dry_run,
                branch_name=branch,
                confidence_field=confidence_field,
                create_missing_data_units=create_missing,
                replace=replace,
                progress=progress,
            )
    except ImportFailed as exc:
        if exc.report is None:
            raise
        if report_file is not None:
            write_bytes(report_file, exc.report.to_json())
        if state.json:
            click.echo(json.dumps(exc.report.to_dict(), indent=2, ensure_ascii=False))
        click.echo(exc.report.summary(), err=True)
        raise
    if report_file is not None:
        write_bytes(report_file, report.to_json())
    state.emit(report.to_dict(), report.summary)


@click.group("export")
def export() -> None:
    """Export labels to a file."""


@export.command("coco")
@click.argument("project_hash", metavar="PROJECT")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The file to write (.json, or .json.gz to compress).",
)
@click.option("--branch", metavar="NAME", help="The branch to export. [default: main]")
@click.option(
    "--rle",
    type=click.Choice(["compressed", "uncompressed"]),
    default=None,
    help="Write every mask in this RLE form. [default: each as it came in; new masks compressed]",
)
@click.option("--results", is_flag=True, help="Write a COCO results list (with score) instead of a dataset.")
@json_option
@click.pass_obj
def export_coco(
    state: State, project_hash: str, output: Path, branch: str | None, rle: str | None, results: bool
) -> None:
    """Export a project's labels as a COCO file; prints the path and its size.

    \b
        labelport export coco PROJECT -o labels.json
    """
    target = state.client().get_project(project_hash)
    try:
        # over HTTP the bar counts the file's bytes as they arrive; embedded, the objects written
        downloading = state.server is not None
        with state.progress("exporting", "bytes" if downloading else "objects") as progress:
            path = target.export_coco(output, progress=progress, branch_name=branch, rle=rle, results=results)
        size = path.stat().st_size
    except OSError as exc:
        raise LabelportError(f"{output} cannot be written ({exc.strerror or exc}).") from None
    state.emit({"path": str(path), "bytes": size}, f"Wrote {path} ({plural(size, 'byte')}).")
