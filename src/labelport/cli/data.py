"""``labelport data`` and ``labelport labels``: data units and their label rows."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from labelport.cli.base import (
    State,
    json_option,
    label_rows_text,
    plural,
    read_data_list,
    removed_text,
    unit_line,
)
from labelport.errors import (
    NotFoundError,
)

# -- data --------------------------------------------------------------------------------------------


@click.group()
def data() -> None:
    """Add and list data units."""


@data.command("add")
@click.argument("project_hash", metavar="PROJECT")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--group", "group_title", metavar="TITLE", help="Add the files as one group with this title.")
@click.option(
    "--type",
    "data_type",
    type=click.Choice(["img_group", "img_sequence", "dicom"]),
    help="The kind of group (with --group). [default: img_group]",
)
@click.option(
    "--list",
    "list_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A CSV file of rows title,width,height[,frames] (frames > 1 makes a video).",
)
@json_option
@click.pass_obj
def data_add(
    state: State,
    project_hash: str,
    files: tuple[Path, ...],
    group_title: str | None,
    data_type: str | None,
    list_file: Path | None,
) -> None:
    """Add images (sizes read from each file's header), one group of images, or units listed in a CSV file.

    One bad file adds nothing.

    \b
        labelport data add PROJECT a.jpg b.jpg
        labelport data add PROJECT scan-*.png --group scan-7 --type dicom
        labelport data add PROJECT --list units.csv
    """
    if list_file is not None and (files or group_title):
        raise click.UsageError("give image files or --list FILE.csv, not both.")
    if list_file is None and not files:
        raise click.UsageError("give image files to add, or --list FILE.csv.")
    if data_type is not None and group_title is None:
        raise click.UsageError("--type needs --group TITLE.")
    rows = read_data_list(list_file) if list_file is not None else None
    target = state.client().get_project(project_hash)
    if rows is not None:
        units = target.add_data(rows)
    elif group_title is not None:
        units = [target.add_image_group(group_title, files, data_type=data_type or "img_group")]
    else:
        units = target.add_images(files)
    state.emit(
        [u.to_dict() for u in units],
        lambda: "\n".join([f"Added {plural(len(units), 'data unit')}.", *(unit_line(u) for u in units)]),
    )


@data.command("list")
@click.argument("project_hash", metavar="PROJECT")
@json_option
@click.pass_obj
def data_list(state: State, project_hash: str) -> None:
    """List a project's data units: hash, title, type, size, frames."""
    units = state.client().get_project(project_hash).list_data_units()
    state.emit([u.to_dict() for u in units], "\n".join(unit_line(u) for u in units) or "No data units.")


@data.command("delete")
@click.argument("project_hash", metavar="PROJECT")
@click.argument("data_hashes", nargs=-1, required=True, metavar="DATA_HASH...")
@click.confirmation_option(prompt="Delete these data units and their labels on every branch?")
@json_option
@click.pass_obj
def data_delete(state: State, project_hash: str, data_hashes: tuple[str, ...]) -> None:
    """Delete data units and their labels on every branch (project admins); all of them or none.

    \b
        labelport data delete PROJECT DATA_HASH DATA_HASH --yes
    """
    removed = state.client().get_project(project_hash).delete_data_units(data_hashes)
    state.emit(asdict(removed), removed_text("Deleted", removed))


# -- labels ------------------------------------------------------------------------------------------


@click.group()
def labels() -> None:
    """Show and delete label rows' labels."""


@labels.command("show")
@click.argument("project_hash", metavar="PROJECT")
@click.option("--data-hash", metavar="HASH", help="Only this data unit.")
@click.option("--title", metavar="TITLE", help="Only data units with this exact title.")
@click.option(
    "--branch-name", "--branch", "branch", metavar="NAME", help="The branch to read. [default: main]"
)
@json_option
@click.pass_obj
def labels_show(
    state: State, project_hash: str, data_hash: str | None, title: str | None, branch: str | None
) -> None:
    """Show label rows: each object with its frames and pixel coordinates (--json: LabelRow.to_dict())."""
    target = state.client().get_project(project_hash)
    target.require_branch(branch)  # reading a branch that is not there would list every unit empty
    rows = target.list_label_rows_v2(
        data_hashes=None if data_hash is None else [data_hash], data_title_eq=title, branch_name=branch
    )
    target.initialise_labels(rows)
    if data_hash is not None and not rows:
        raise NotFoundError("data unit", data_hash)
    state.emit([r.to_dict() for r in rows], lambda: label_rows_text(rows))


@labels.command("delete")
@click.argument("project_hash", metavar="PROJECT")
@click.option("--data-hash", metavar="HASH", required=True, help="The data unit whose labels go.")
@click.option("--branch-name", "--branch", "branch", metavar="NAME", help="The branch. [default: main]")
@click.confirmation_option(prompt="Delete this label row's objects and classifications?")
@json_option
@click.pass_obj
def labels_delete(state: State, project_hash: str, data_hash: str, branch: str | None) -> None:
    """Delete one label row's objects and classifications (annotators and admins).

    \b
        labelport labels delete PROJECT --data-hash HASH --branch model-v2 --yes
    """
    removed = state.client().get_project(project_hash).delete_labels(data_hash, branch)
    state.emit(
        asdict(removed), removed_text(f"Deleted the labels of {data_hash} on {branch or 'main'}", removed)
    )
