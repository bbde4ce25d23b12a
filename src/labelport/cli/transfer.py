"""``labelport import`` and ``labelport export``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

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
from labelport.plural import plural

F = TypeVar("F", bound=Callable[..., Any])

# -- import and export -------------------------------------------------------------------------------


class _FormatGroup(click.Group):
    """A command group with one command per format of :data:`labelport.formats.FORMATS`, made when
    asked for: a format added to the table has its commands, with nothing else to register."""

    def __init__(self, *args: Any, make: Callable[[str], click.Command], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.make = make

    def list_commands(self, ctx: click.Context) -> list[str]:
        from labelport.formats import FORMATS

        return sorted({*self.commands, *FORMATS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        from labelport.formats import FORMATS

        found = self.commands.get(cmd_name)
        if found is None and cmd_name in FORMATS:
            found = self.make(cmd_name)
        return found


@click.group("import", cls=_FormatGroup, make=lambda name: import_command(name))
def import_() -> None:
    """Import labels from a file."""


def _import_options(f: F) -> F:
    """The options every ``labelport import FORMAT`` takes: the keyword arguments of the import call."""
    for decorator in reversed(_IMPORT_DECORATORS):
        f = decorator(f)
    return f


#: The import call's keyword names that every ``labelport import FORMAT`` takes as options.
_IMPORT_KEYWORDS = (
    "match",
    "categories",
    "on_error",
    "dry_run",
    "branch_name",
    "confidence_field",
    "create_missing_data_units",
    "replace",
    "source_name",
    "subset",
)

_IMPORT_DECORATORS: list[Callable[[Any], Any]] = [
    click.option(
        "--match",
        default="auto",
        show_default=True,
        metavar="auto|MAPFILE.json",
        help="How COCO images find data units: by file name, or a JSON file mapping image ids (or file names) "
        "to data hashes or [data_hash, frame].",
    ),
    click.option(
        "--categories",
        default="by-name",
        show_default=True,
        metavar="by-name|create|MAPFILE.json",
        help="How categories find ontology objects: by name, by name creating the missing ones, "
        "or a JSON file mapping category ids (or names) to feature hashes.",
    ),
    click.option(
        "--on-error",
        type=click.Choice(["fail", "skip"]),
        default="fail",
        show_default=True,
        help="fail: any problem writes nothing; skip: import everything else.",
    ),
    click.option("--dry-run", is_flag=True, help="Check and report; write nothing."),
    click.option(
        "--branch-name", "--branch", metavar="NAME", help="The branch to import onto. [default: main]"
    ),
    click.option(
        "--confidence-field", metavar="NAME", help="The annotation field holding a confidence (e.g. score)."
    ),
    click.option(
        "--create-missing-data-units",
        "--create-missing",
        is_flag=True,
        help="Create a data unit for each image that matches none.",
    ),
    click.option("--replace", is_flag=True, help="Remove earlier labels of the matched data units first."),
    click.option(
        "--source-name",
        metavar="NAME",
        help="The name this import is known by: importing under a name again updates what that import "
        "made. [default: the file's name]",
    ),
    click.option(
        "--subset",
        metavar="NAME",
        help="The subset (split) of every image of the file that names none, such as val for a file "
        "of one subset (Datumaro's val.xml, instances_val.json): matched and kept apart from other subsets.",
    ),
    click.option(
        "--report",
        "report_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write the full import report as JSON to this file.",
    ),
]


@import_.command("coco")
@click.argument("project_hash", metavar="PROJECT")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path))
@_import_options
@json_option
@click.pass_obj
def import_coco(
    state: State, /, project_hash: str, file: Path, report_file: Path | None, **options: Any
) -> None:
    """Import a COCO file (instances, keypoints or a results list); prints the import report.

    Re-importing the same file updates what it imported before instead of adding duplicates. FILE
    ``-`` reads standard input (its source name is then ``stdin``).

    \b
        labelport import coco PROJECT instances.json --dry-run
        labelport import coco PROJECT detections.json --branch model-v2 --confidence-field score
    """
    _run_import(state, project_hash, file, "coco", report_file, **options)


def _run_import(
    state: State, project_hash: str, source: Path, format: str, report_file: Path | None, **options: Any
) -> None:
    """Run ``project.import_labels`` with a progress bar; print (and write) its report, also when it failed."""
    target = state.client().get_project(project_hash)
    if str(source) == "-":  # standard input: read as a stream, capped as any source is
        source = Path("/dev/stdin")
    try:
        # over HTTP the bar counts the file's bytes as they are sent; embedded, the annotations imported
        uploading = state.server is not None
        with state.progress(
            "uploading" if uploading else "importing", "bytes" if uploading else "annotations"
        ) as progress:
            report = target.import_labels(source, format, progress=progress, **options)
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


@click.group("export", cls=_FormatGroup, make=lambda name: export_command(name))
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
@click.option("--branch-name", "--branch", metavar="NAME", help="The branch to export. [default: main]")
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
    state: State, project_hash: str, output: Path, branch_name: str | None, rle: str | None, results: bool
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
            path = target.export_coco(
                output, progress=progress, branch_name=branch_name, rle=rle, results=results
            )
        size = path.stat().st_size
    except OSError as exc:
        raise LabelportError(f"{output} cannot be written ({exc.strerror or exc}).") from None
    state.emit({"path": str(path), "bytes": size}, f"Wrote {path} ({plural(size, 'byte')}).")


# -- every other format --------------------------------------------------------------------------------

_TASK = click.option(
    "--task",
    type=click.Choice(["detect", "segment", "pose", "obb"]),
    help="The YOLO task. [default: the yaml's task, else from the lines (pose with kpt_shape)]",
)

#: The options of each format's reader and writer (the keyword names of its read and write calls).
FORMAT_IMPORT_OPTIONS: dict[str, list[Callable[[Any], Any]]] = {
    "yolo": [_TASK],
    "labelstudio": [
        click.option(
            "--predictions",
            is_flag=True,
            help="Import the tasks' predictions (with their scores) instead of their annotations.",
        )
    ],
}
FORMAT_EXPORT_OPTIONS: dict[str, list[Callable[[Any], Any]]] = {
    "yolo": [
        click.option(
            "--classes",
            metavar="NAME,NAME,...",
            callback=lambda _ctx, _param, value: None if value is None else value.split(","),
            help="The class order: class 0 is the first name. [default: the ids kept from a YOLO import, "
            "else the categories' order]",
        ),
        _TASK,
        click.option(
            "--split", default="train", show_default=True, help="The split of images that came with none."
        ),
    ],
    "cvat": [
        click.option(
            "--mode",
            type=click.Choice(["images", "video"]),
            help="CVAT for images or for video. [default: video when the labels are on videos]",
        )
    ],
    "labelstudio": [
        click.option("--predictions", is_flag=True, help="Write the labels as predictions (with scores).")
    ],
}


def _with(decorators: list[Callable[[Any], Any]], f: Any) -> Any:
    for decorator in reversed(decorators):
        f = decorator(f)
    return f


def _format_options(options: dict[str, Any]) -> dict[str, Any]:
    """The format's own options that were given (flags left off and unset values are not passed)."""
    return {k: v for k, v in options.items() if v is not None and v is not False}


def import_command(name: str) -> click.Command:
    """``labelport import NAME PROJECT SOURCE`` for a format of the table."""
    from labelport.formats import get_format

    fmt = get_format(name)

    def command(
        state: State, project_hash: str, source: Path, report_file: Path | None, **options: Any
    ) -> None:
        common = {k: v for k, v in options.items() if k in _IMPORT_KEYWORDS}
        own = _format_options({k: v for k, v in options.items() if k not in _IMPORT_KEYWORDS})
        _run_import(state, project_hash, source, name, report_file, **common, **own)

    command.__doc__ = (
        f"Import {fmt.description}; prints the import report.\n\n"
        "The labels go through the COCO import: the same matching, validation, report and idempotent "
        f"re-import.\n\n\b\n    labelport import {name} PROJECT {'FOLDER' if fmt.folder else 'FILE'} --dry-run"
    )
    decorated = _with(
        [
            click.argument("project_hash", metavar="PROJECT"),
            click.argument(
                "source",
                metavar="FOLDER" if fmt.folder else "FILE",
                type=click.Path(exists=True, allow_dash=not fmt.folder, path_type=Path),
            ),
            *_IMPORT_DECORATORS,
            *FORMAT_IMPORT_OPTIONS.get(name, []),
            json_option,
            click.pass_obj,
        ],
        command,
    )
    return click.command(name)(decorated)


def export_command(name: str) -> click.Command:
    """``labelport export NAME PROJECT -o OUT`` for a format of the table."""
    from labelport.formats import get_format

    fmt = get_format(name)

    def command(
        state: State, project_hash: str, output: Path, branch_name: str | None, **format_options: Any
    ) -> None:
        target = state.client().get_project(project_hash)
        downloading = state.server is not None
        with state.progress("exporting", "bytes" if downloading else "objects") as progress:
            report = target.export_labels(
                output, name, branch_name=branch_name, progress=progress, **_format_options(format_options)
            )
        state.emit(report.to_dict(), report.summary)

    command.__doc__ = (
        f"Export a project's labels as {fmt.description}; prints what was written and every loss.\n\n"
        f"\b\n    labelport export {name} PROJECT -o {'FOLDER' if fmt.folder else 'FILE'}"
    )
    decorated = _with(
        [
            click.argument("project_hash", metavar="PROJECT"),
            click.option(
                "-o",
                "--output",
                type=click.Path(path_type=Path),
                required=True,
                help="The folder to write." if fmt.folder else "The file to write.",
            ),
            click.option(
                "--branch-name", "--branch", metavar="NAME", help="The branch to export. [default: main]"
            ),
            *FORMAT_EXPORT_OPTIONS.get(name, []),
            json_option,
            click.pass_obj,
        ],
        command,
    )
    return click.command(name)(decorated)
