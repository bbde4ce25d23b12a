"""``labelport convert``: labels from one format to another, with no project."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from labelport.cli.base import State, json_option, not_used
from labelport.convert import convert_labels
from labelport.formats import FORMATS
from labelport.formats.yolo.read import TASKS


@click.command("convert")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.argument("dest", type=click.Path(path_type=Path))
@click.option(
    "--from-format",
    "--from",
    metavar="FORMAT",
    help=f"The source's format ({', '.join(FORMATS)}). [default: guessed]",
)
@click.option(
    "--to-format",
    "--to",
    metavar="FORMAT",
    help="The output's format. [default: from its name]",
)
@click.option(
    "--on-error",
    type=click.Choice(["fail", "skip"]),
    default="fail",
    show_default=True,
    help="fail: any problem writes nothing; skip: convert everything else.",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace a destination that exists (a file, or a folder that is not empty).",
)
@click.option(
    "--from-task",
    type=click.Choice(TASKS),
    help="Reading YOLO: the task. [default: the yaml's task, else from the lines]",
)
@click.option(
    "--from-predictions",
    is_flag=True,
    help="Reading Label Studio: the tasks' predictions (with their scores) instead of their annotations.",
)
@click.option(
    "--classes",
    metavar="NAME,NAME,...",
    callback=lambda _ctx, _param, value: None if value is None else value.split(","),
    help="Writing YOLO: the class order (class 0 is the first name).",
)
@click.option("--task", type=click.Choice(TASKS), help="Writing YOLO: the task. [default: from the labels]")
@click.option("--split", help="Writing YOLO: the split of images that came with none. [default: train]")
@click.option(
    "--mode",
    type=click.Choice(["images", "video"]),
    help="Writing CVAT: for images or for video. [default: video when the labels are on videos]",
)
@click.option("--predictions", is_flag=True, help="Writing Label Studio: the labels as predictions.")
@json_option
@click.pass_obj
@not_used(
    home="it converts files and opens no store",
    key="it converts files and signs nothing",
    server="it converts files on this machine",
)
def convert(
    state: State,
    /,
    source: Path,
    dest: Path,
    from_format: str | None,
    to_format: str | None,
    on_error: str,
    overwrite: bool,
    from_task: str | None,
    from_predictions: bool,
    **write_options: Any,
) -> None:
    """Convert labels between formats (through a temporary store); prints both reports and every loss.

    A format not given is guessed, and the guess is said. The reader's options start with --from-,
    the writer's are those of `labelport export FORMAT`; an option the format does not take is refused.
    A destination that exists is refused unless --overwrite; the output is written beside it and
    renamed into place when whole, so a failed conversion leaves it as it was.

    \b
        labelport convert dataset/ annotations.xml --from yolo --to cvat --mode images
        labelport convert instances.json yolo-out/ --to yolo --task segment --classes cat,dog
    """
    given = {"task": from_task, "predictions": from_predictions or None}
    result = convert_labels(
        source,
        dest,
        from_format=from_format,
        to_format=to_format,
        on_error=on_error,
        overwrite=overwrite,
        read_options={k: v for k, v in given.items() if v is not None},
        **{k: v for k, v in write_options.items() if v is not None and v is not False},
    )
    for side in result.guessed:
        name = result.from_format if side == "from" else result.to_format
        click.echo(f"guessed --{side} {name}.", err=True)
    state.emit(result.to_dict(), result.summary)
