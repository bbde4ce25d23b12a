"""The ``labelport`` command: each command parses its options, makes one library call and renders the result.

Options mirror the keyword arguments of the call behind each command, and ``--json`` prints the same
result object as JSON on stdout::

    $ labelport init
    $ labelport project create "street scenes" --from-coco instances.json
    $ labelport --json project list

An error labelport raises on purpose (:class:`~labelport.errors.LabelportError`) prints one sentence
on stderr and exits 1; a usage error exits 2. A failed command changes nothing in the store.

>>> from click.testing import CliRunner
>>> CliRunner().invoke(cli, ["--help"]).exit_code
0
"""

from __future__ import annotations

from pathlib import Path

import click

from labelport.cli.base import (
    KEY_NAME,
    LabelportGroup,
    State,
    one_sentence,
    progress_bar,
    read_data_list,
    write_new_key,
)
from labelport.cli.branches import branch
from labelport.cli.convert import convert
from labelport.cli.data import data, labels
from labelport.cli.evaluate import diff, evaluate
from labelport.cli.projects import ontology, project
from labelport.cli.server import media_roots, serve, user
from labelport.cli.setup import init
from labelport.cli.stats import stats
from labelport.cli.transfer import export, import_
from labelport.cli.view import login, render, view
from labelport.home import default_home
from labelport.version import __version__

# -- the group ---------------------------------------------------------------------------------------


@click.group(cls=LabelportGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="LABELPORT_HOME",
    help="The embedded store's folder. [default: $LABELPORT_HOME, else ~/.labelport]",
)
@click.option(
    "--key",
    type=click.Path(path_type=Path),
    envvar="LABELPORT_KEY",
    help="Your SSH private key (Ed25519, RSA or ECDSA). [default: $LABELPORT_KEY, else ~/.ssh/id_ed25519, "
    "else HOME/id_ed25519 made by `labelport init`]",
)
@click.option(
    "--server",
    envvar="LABELPORT_SERVER",
    metavar="URL",
    help="A labelport server to use instead of the embedded store.",
)
@click.option("--json", "as_json", is_flag=True, help="Print every result as JSON on stdout.")
@click.version_option(__version__, prog_name="labelport")
@click.pass_context
def cli(ctx: click.Context, home: Path | None, key: Path | None, server: str | None, as_json: bool) -> None:
    """labelport: a label store for computer-vision annotation, with lossless COCO import and export.

    Every command is one call of the Python API; --json prints the call's result as JSON.
    A key encrypted with a password is read with the password in $LABELPORT_KEY_PASSWORD.
    """
    ctx.obj = State(home=(home or default_home()).expanduser(), key=key, server=server or None, json=as_json)


__all__ = ["KEY_NAME", "cli", "main", "one_sentence", "progress_bar", "read_data_list", "write_new_key"]

for _command in (
    init,
    ontology,
    project,
    data,
    labels,
    branch,
    stats,
    import_,
    export,
    convert,
    evaluate,
    diff,
    user,
    media_roots,
    serve,
    view,
    render,
    login,
):
    cli.add_command(_command)


def main() -> None:
    """The ``labelport`` script."""
    cli(prog_name="labelport")


if __name__ == "__main__":
    main()
