"""``labelport branch``: a project's branches, copying one onto another, deleting one."""

from __future__ import annotations

from dataclasses import asdict

import click

from labelport.cli.base import State, json_option, removed_text
from labelport.plural import plural


@click.group()
def branch() -> None:
    """List, copy and delete a project's branches."""


@branch.command("list")
@click.argument("project_hash", metavar="PROJECT")
@json_option
@click.pass_obj
def branch_list(state: State, project_hash: str) -> None:
    """List branches with their label rows, objects and last change.

    \b
        labelport branch list PROJECT
    """
    found = state.client().get_project(project_hash).branches()
    width = max((len(b.name) for b in found), default=0)
    state.emit(
        [asdict(b) for b in found],
        "\n".join(
            f"{b.name:<{width}}  {plural(b.objects, 'object')} on {plural(b.labelled_rows, 'data unit')} "
            f"(of {plural(b.label_rows, 'label row')})  last change {b.updated_at or 'never'}"
            for b in found
        )
        or "No branches.",
    )


@branch.command("copy")
@click.argument("project_hash", metavar="PROJECT")
@click.argument("source")
@click.argument("target")
@click.option("--replace", is_flag=True, help="First clear TARGET's labels of every data unit SOURCE labels.")
@json_option
@click.pass_obj
def branch_copy(state: State, project_hash: str, source: str, target: str, replace: bool) -> None:
    """Copy SOURCE's labels onto TARGET, e.g. reviewed predictions into main.

    A copied object replaces TARGET's object with the same hash or from the same source annotation,
    so copying twice gives what copying once gave.

    \b
        labelport branch copy PROJECT model-v2 main --replace
    """
    copied = state.client().get_project(project_hash).copy_branch(source, target, replace=replace)
    state.emit(
        asdict(copied),
        f"Copied {plural(copied.objects, 'object')} and {plural(copied.classifications, 'classification')} "
        f"from {source} onto {plural(copied.label_rows, 'label row')} of {target}; "
        f"{plural(copied.replaced, 'object')} of {target} replaced.",
    )


@branch.command("delete")
@click.argument("project_hash", metavar="PROJECT")
@click.argument("name")
@click.confirmation_option(prompt="Delete the branch and all its labels?")
@json_option
@click.pass_obj
def branch_delete(state: State, project_hash: str, name: str) -> None:
    """Delete a branch and its labels (project admins; main cannot be deleted).

    \b
        labelport branch delete PROJECT model-v1 --yes
    """
    removed = state.client().get_project(project_hash).delete_branch(name)
    state.emit(asdict(removed), removed_text(f"Deleted branch {name}", removed))
