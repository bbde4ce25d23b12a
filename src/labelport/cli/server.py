"""``labelport user`` and ``labelport serve``: the team server."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from labelport.cli.base import (
    State,
    json_option,
    media_roots_option,
    not_used,
    read_bytes,
    server_function,
)
from labelport.errors import (
    KeyFileError,
)

# -- the team server ---------------------------------------------------------------------------------


#: the server's database, which a server administrator's commands write to directly
DB_OPTION = click.option(
    "--db", required=True, envvar="LABELPORT_DB", metavar="URL", help="The server's database URL."
)
#: why those commands take no --home or --server
ON_THE_DATABASE = {
    "home": "it writes to the database named by --db",
    "server": "it writes to the database named by --db",
}


@click.group()
def user() -> None:
    """Manage the users of a team server's database."""


@user.command("add")
@click.argument("name")
@click.option(
    "--key",
    "public_key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The user's OpenSSH public key file (KEY.pub).",
)
@click.option("--admin", is_flag=True, help="Make the user an administrator of the whole server.")
@DB_OPTION
@json_option
@click.pass_obj
@not_used(**ON_THE_DATABASE, key="the new user's public key is `user add --key KEY.pub`, given after `add`")
def user_add(state: State, name: str, public_key_file: Path, admin: bool, db: str) -> None:
    """Add a user (or update their name) by their public key; prints their fingerprint.

    \b
        labelport user add ada --key ada.pub --db postgresql://labelport@db/labelport
    """
    text = read_bytes(public_key_file, lambda message: KeyFileError(message)).decode(
        "utf-8", errors="replace"
    )
    record = server_function("admin", "add_user")(db, name, text, admin=admin, file=str(public_key_file))
    state.emit(
        {
            "id": record.id,
            "name": record.name,
            "fingerprint": record.fingerprint,
            "is_admin": record.is_admin,
        },
        f"{record.name}  {record.fingerprint}{'  (admin)' if record.is_admin else ''}",
    )


@click.command("media-roots")
@click.argument("project_hash", metavar="PROJECT")
@click.argument("folders", nargs=-1)
@click.option("--clear", is_flag=True, help="Record no folder: the project serves no local file.")
@DB_OPTION
@json_option
@click.pass_obj
@not_used(**ON_THE_DATABASE, key="it writes to the database named by --db and signs nothing")
def media_roots(state: State, project_hash: str, folders: tuple[str, ...], clear: bool, db: str) -> None:
    """Record the folders a team server serves PROJECT's images from (a server administrator's
    command, on the database); without FOLDER, list them.

    \b
        labelport media-roots 3f9a... /srv/images/team-a --db postgresql://labelport@db/labelport
    """
    if clear and folders:
        raise click.UsageError("give folders or --clear, not both.")
    roots = server_function("admin", "set_media_roots")(db, project_hash, list(folders), clear=clear)
    state.emit(
        roots, "\n".join(roots) or f"Project {project_hash} has no media roots: it serves no local file."
    )


@user.command("list")
@json_option
@click.pass_obj
def user_list(state: State) -> None:
    """List the server's users: name, key fingerprint, admin (server administrators).

    \b
        labelport --server http://labels.example:8800 user list
    """
    found = state.client().list_users()
    width = max((len(u.name) for u in found), default=0)
    state.emit(
        [asdict(u) for u in found],
        "\n".join(f"{u.name:<{width}}  {u.fingerprint}{'  admin' if u.is_admin else ''}" for u in found)
        or "No users.",
    )


@click.command()
@click.option(
    "--db",
    required=True,
    envvar="LABELPORT_DB",
    metavar="URL|FILE",
    help="A PostgreSQL URL (postgresql://...), or the path of an SQLite store file.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option(
    "--port", default=8800, show_default=True, type=click.IntRange(1, 65535), help="The port to listen on."
)
@media_roots_option("A folder whose images the viewer (/ui/) may serve (repeatable).")
@json_option
@click.pass_obj
@not_used(
    home="it serves the database named by --db",
    key="its users sign their own requests",
    server="it is the server; give its database with --db",
)
def serve(state: State, db: str, host: str, port: int, media_roots: tuple[Path, ...]) -> None:
    """Run the team server until interrupted, on a PostgreSQL database or an SQLite store file.

    PostgreSQL serves any number of processes at once; an SQLite file serves one process, one
    request at a time (a small team on one machine).

    \b
        labelport serve --db postgresql://labelport@db/labelport --port 8800
        labelport serve --db ~/.labelport/labelport.db
    """
    server_function("app", "serve")(db, host, port, media_roots=list(media_roots))
    state.emit({"db": db, "host": host, "port": port, "stopped": True}, "Server stopped.")
