"""``labelport ontology`` and ``labelport project``."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from labelport.cli.base import (
    State,
    json_option,
    ontology_text,
    project_dict,
    read_ontology,
    removed_text,
)
from labelport.store.base import ROLES

# -- ontology ----------------------------------------------------------------------------------------


@click.group()
def ontology() -> None:
    """Create and show ontologies."""


@ontology.command("create")
@click.argument("title")
@click.option(
    "--file",
    "file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The ontology in the platform's JSON form ({'objects': [...], 'classifications': [...]}).",
)
@json_option
@click.pass_obj
def ontology_create(state: State, title: str, file: Path) -> None:
    """Store an ontology from a JSON file; prints its hash.

    \b
        labelport ontology create animals --file animals.json
    """
    structure = read_ontology(file)
    ontology_hash = state.client().create_ontology(title, structure)
    state.emit({"ontology_hash": ontology_hash, "title": title}, ontology_hash)


@ontology.command("show")
@click.argument("ontology_hash", metavar="HASH")
@json_option
@click.pass_obj
def ontology_show(state: State, ontology_hash: str) -> None:
    """Show an ontology's objects (shapes, feature hashes, attributes) and classifications."""
    record = state.client().get_ontology_record(ontology_hash)
    result = {"ontology_hash": record.ontology_hash, "title": record.title, **record.structure.to_dict()}
    state.emit(result, lambda: f"{record.title}  {record.ontology_hash}\n{ontology_text(record.structure)}")


# -- project -----------------------------------------------------------------------------------------


@click.group()
def project() -> None:
    """Create, list and show projects; manage their members."""


@project.command("create")
@click.argument("title")
@click.option("--ontology", "ontology_hash", metavar="HASH", help="Use an existing ontology.")
@click.option(
    "--ontology-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A new ontology from a JSON file (the platform's form).",
)
@click.option(
    "--from-coco",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A new ontology from a COCO file's categories.",
)
@click.option("--description", default="", help="A line about the project.")
@json_option
@click.pass_obj
def project_create(
    state: State,
    title: str,
    ontology_hash: str | None,
    ontology_file: Path | None,
    from_coco: Path | None,
    description: str,
) -> None:
    """Create a project; prints its hash. With no ontology option, its ontology starts empty.

    \b
        labelport project create "street scenes" --from-coco instances.json
    """
    given = [
        name
        for name, value in (
            ("--ontology", ontology_hash),
            ("--ontology-file", ontology_file),
            ("--from-coco", from_coco),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise click.UsageError(
            f"give one of --ontology, --ontology-file and --from-coco, not {' and '.join(given)}."
        )
    structure = None
    if ontology_file is not None:
        structure = read_ontology(ontology_file)
    created = state.client().create_project(
        title, description=description, ontology_hash=ontology_hash, ontology=structure, from_coco=from_coco
    )
    state.emit(project_dict(created.record), created.project_hash)


@project.command("list")
@json_option
@click.pass_obj
def project_list(state: State) -> None:
    """List the projects you can see."""
    records = state.client().list_projects()
    width = max((len(r.title) for r in records), default=0)
    state.emit(
        [project_dict(r) for r in records],
        "\n".join(f"{r.project_hash}  {r.title:<{width}}  {r.created_at}" for r in records) or "No projects.",
    )


@project.command("show")
@click.argument("project_hash", metavar="HASH")
@json_option
@click.pass_obj
def project_show(state: State, project_hash: str) -> None:
    """Show a project: title, ontology objects with shapes and feature hashes, data-unit count, branches."""
    found = state.client().get_project(project_hash)
    units = found.list_data_units()
    branches = found.list_branches()
    structure = found.ontology_structure
    result = {
        **project_dict(found.record),
        "ontology": structure.to_dict(),
        "data_units": len(units),
        "branches": branches,
    }

    def text() -> str:
        lines = [f"{found.title}  {found.project_hash}"]
        if found.record.description:
            lines.append(found.record.description)
        lines.append(f"ontology {found.ontology_hash}")
        lines.append(ontology_text(structure))
        lines.append(f"data units: {len(units)}")
        lines.append(f"branches: {', '.join(branches) or 'none'}")
        return "\n".join(lines)

    state.emit(result, text)


@project.command("member")
@click.argument("project_hash", metavar="PROJECT")
@click.argument("fingerprint")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the member may do.")
@json_option
@click.pass_obj
def project_member(state: State, project_hash: str, fingerprint: str, role: str) -> None:
    """Give the user with this key fingerprint a role in a project (admin, annotator or viewer).

    \b
        labelport project member PROJECT SHA256:... --role annotator
    """
    target = state.client().get_project(project_hash)
    target.add_member(fingerprint, role)
    state.emit(
        {"project_hash": target.project_hash, "fingerprint": fingerprint, "role": role},
        f"{fingerprint} is now {role} of project {target.project_hash}.",
    )


@project.command("members")
@click.argument("project_hash", metavar="PROJECT")
@json_option
@click.pass_obj
def project_members(state: State, project_hash: str) -> None:
    """List a project's members: name, key fingerprint, role."""
    found = state.client().get_project(project_hash).members()
    width = max((len(m.name) for m in found), default=0)
    state.emit(
        [asdict(m) for m in found],
        "\n".join(f"{m.name:<{width}}  {m.fingerprint}  {m.role}" for m in found) or "No members.",
    )


@project.command("remove-member")
@click.argument("project_hash", metavar="PROJECT")
@click.argument("fingerprint")
@json_option
@click.pass_obj
def project_remove_member(state: State, project_hash: str, fingerprint: str) -> None:
    """Take the user with this key fingerprint out of a project (a project keeps one admin at least).

    \b
        labelport project remove-member PROJECT SHA256:...
    """
    target = state.client().get_project(project_hash)
    removed = target.remove_member(fingerprint)
    state.emit(
        asdict(removed),
        f"{removed.name} ({removed.fingerprint}, {removed.role}) is no longer a member of "
        f"{target.project_hash}.",
    )


@project.command("rename")
@click.argument("project_hash", metavar="PROJECT")
@click.option("--title", help="The new title.")
@click.option("--description", help="The new description.")
@json_option
@click.pass_obj
def project_rename(state: State, project_hash: str, title: str | None, description: str | None) -> None:
    """Change a project's title or description (project admins).

    \b
        labelport project rename PROJECT --title "street scenes" --description "Berlin, spring"
    """
    if title is None and description is None:
        raise click.UsageError("give --title, --description or both.")
    record = state.client().get_project(project_hash).update(title=title, description=description)
    state.emit(
        project_dict(record),
        f"Project {record.project_hash}: {record.title}"
        + (f" ({record.description})" if record.description else ""),
    )


@project.command("delete")
@click.argument("project_hash", metavar="PROJECT")
@click.confirmation_option(prompt="Delete the project with all its data units and labels?")
@json_option
@click.pass_obj
def project_delete(state: State, project_hash: str) -> None:
    """Delete a project with its data units, labels, imports and members (project admins; its ontology stays).

    \b
        labelport project delete PROJECT --yes
    """
    client = state.client()
    resolved = client.project_hash(project_hash)
    removed = client.delete_project(resolved)
    state.emit(asdict(removed), removed_text(f"Deleted project {resolved}", removed))
