"""``labelport convert``: labels from one format to another, with no project."""

from __future__ import annotations

from pathlib import Path

import click

from labelport.cli.base import State, json_option, not_used
from labelport.convert import convert_labels
from labelport.formats import FORMATS


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
@json_option
@click.pass_obj
@not_used(
    home="it converts files and opens no store",
    key="it converts files and signs nothing",
    server="it converts files on this machine",
)
def convert(
    state: State, source: Path, dest: Path, from_format: str | None, to_format: str | None, on_error: str
) -> None:
    """Convert labels between formats (through a temporary store); prints both reports and every loss.

    A format not given is guessed, and the guess is said.

    \b
        labelport convert dataset/ annotations.xml --from yolo --to cvat
        labelport convert instances.json yolo-out/ --to yolo
    """
    result = convert_labels(source, dest, from_format=from_format, to_format=to_format, on_error=on_error)
    for side in result.guessed:
        name = result.from_format if side == "from" else result.to_format
        click.echo(f"guessed --{side} {name}.", err=True)
    state.emit(result.to_dict(), result.summary)
