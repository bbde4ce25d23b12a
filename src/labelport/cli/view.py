"""``labelport view``, ``labelport render`` and ``labelport login``: looking at labels."""

from __future__ import annotations

from pathlib import Path

import click

from labelport.cli.base import State, json_option, media_roots_option, not_used, refuse

_ROOTS = media_roots_option(
    "A folder whose images may be served (repeatable); other local paths are refused."
)


@click.command()
@click.argument("project_hash", required=False, metavar="[PROJECT]")
@click.option(
    "--port", default=8765, show_default=True, type=click.IntRange(1, 65535), help="The port on 127.0.0.1."
)
@click.option("--open", "open_browser", is_flag=True, help="Open the address in a browser.")
@_ROOTS
@json_option
@click.pass_obj
@not_used(
    server="it serves the embedded store on this machine; for the server's viewer, "
    "open the link `labelport login --server URL` prints"
)
def view(
    state: State, project_hash: str | None, port: int, open_browser: bool, media_roots: tuple[Path, ...]
) -> None:
    """Browse the embedded store's labels in a web browser, until interrupted.

    Prints an address on 127.0.0.1 with a random token that signs you in.

    \b
        labelport view PROJECT --media-root ~/datasets/coco --open
    """
    from labelport.viewer.local import serve_local

    client = state.client(embedded=True)
    if project_hash:  # a title becomes its hash; an unknown project is one sentence, before serving
        project_hash = client.get_project(project_hash).project_hash
    serve_local(
        client.service,
        port=port,
        media_roots=list(media_roots),
        project_hash=project_hash,
        open_browser=open_browser,
        announce=lambda address: state.emit(
            {"address": address, "project_hash": project_hash},
            f"labelport viewer at {address}\n(Ctrl-C to stop)",
        ),
    )


@click.command()
@click.argument("project_hash", metavar="PROJECT")
@click.option("--title", help="The data unit's title.")
@click.option("--data-hash", help="The data unit's hash.")
@click.option(
    "--branch-name", "--branch", "branch_name", help="The branch whose labels are drawn. [default: main]"
)
@click.option("--frame", default=0, show_default=True, type=click.IntRange(0), help="The frame to draw.")
@click.option(
    "-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The PNG to write."
)
@_ROOTS
@json_option
@click.pass_obj
def render(
    state: State,
    project_hash: str,
    title: str | None,
    data_hash: str | None,
    branch_name: str | None,
    frame: int,
    out: Path,
    media_roots: tuple[Path, ...],
) -> None:
    """Draw one data unit's labels on its image and write a PNG.

    Without --media-root the image is read from wherever its location says.

    \b
        labelport render PROJECT --title street-1.png -o street-1.png
    """
    from labelport.viewer.render import render_unit

    if (title is None) == (data_hash is None):
        raise click.UsageError("give --title or --data-hash, one of them.")
    project = state.client().get_project(project_hash)
    path, note = render_unit(
        project,
        out=out,
        title=title,
        data_hash=data_hash,
        branch_name=branch_name,
        frame=frame,
        media_roots=list(media_roots) or ["/"],
    )
    state.emit(
        {"out": str(path), "note": note},
        f"Wrote {path}" + (f" ({note}; labels on a plain canvas)" if note else ""),
    )


@click.command()
@click.option(
    "--minutes", default=5, show_default=True, type=click.IntRange(1, 60), help="How long the link works."
)
@click.option(
    "--server",
    envvar="LABELPORT_SERVER",
    metavar="URL",
    help="The server whose viewer to sign in to (as the group's --server). [default: $LABELPORT_SERVER]",
)
@json_option
@click.pass_obj
def login(state: State, minutes: int, server: str | None) -> None:
    """Print a short-lived sign-in link for a team server's viewer, signed with your key.

    \b
        labelport login --server https://labels.example
    """
    from labelport.server.sessions import login_link

    state.server = server or state.server
    if not state.server:
        refuse("login signs you in to a server's viewer: pass --server URL or set LABELPORT_SERVER.")
    identity = state.identity()
    link = login_link(identity, state.server, seconds=minutes * 60)
    state.emit({"link": link}, f"Open this link within {minutes} minutes to sign in:\n{link}")
