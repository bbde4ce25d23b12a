"""The group's options on every command: each is honoured, or refused with one sentence and exit 2.

Also the options a new user trips over first: ``login --server``, ``--media-root`` that does not
exist, and a busy port for ``serve`` and ``view``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from browser import free_port
from labelport.cli import cli

#: What each command that refuses a group option refuses (every other command honours all three).
REFUSED = {
    "init": {"server"},
    "media-roots": {"home", "key", "server"},
    "convert": {"home", "key", "server"},
    "serve": {"home", "key", "server"},
    "user add": {"home", "key", "server"},
    "view": {"server"},
}


def leaves(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, click.Command]]:
    context = click.Context(group)
    for name in sorted(group.list_commands(context)):
        command = group.get_command(context, name)
        assert command is not None
        if isinstance(command, click.Group):
            yield from leaves(command, (*prefix, name))
        else:
            yield " ".join((*prefix, name)), command


def minimal_args(command: click.Command, tmp: Path) -> list[str]:
    """Values for the command's required parameters, enough for click to parse them."""
    existing = tmp / "in.json"
    existing.write_text("{}")
    (tmp / "units.csv").write_text("a.png,4,3\n")
    args: list[str] = []
    for param in command.params:
        if not param.required:
            continue
        if isinstance(param.type, click.Choice):
            value = str(param.type.choices[0])
        elif isinstance(param.type, click.File | click.Path):
            value = str(existing) if param.name in {"file", "source", "public_key_file"} else str(tmp / "out")
        else:
            value = "x"
        if isinstance(param, click.Option):
            args += [param.opts[0], value]
        else:
            args.append(value)
    return args


#: What a command needs beyond its required parameters to get as far as calling the library.
EXTRA = {
    "data add": ["--list", "{tmp}/units.csv"],
    "project rename": ["--title", "t"],
    "render": ["--title", "t"],
}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands run with made-up values (a database named ``x``): whatever they make lands in tmp."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def closed_server() -> str:
    """The address of a port nothing listens on."""
    return f"http://127.0.0.1:{free_port()}"


def test_the_table_names_every_command_that_refuses() -> None:
    declared = {path: set(getattr(command.callback, "not_used", ())) for path, command in leaves(cli)}
    assert {path: names for path, names in declared.items() if names} == REFUSED


@pytest.mark.parametrize("path", sorted(REFUSED))
def test_a_group_option_a_command_cannot_honour_is_one_sentence_and_exit_2(
    path: str, tmp_path: Path, home: Path, key_path: Path
) -> None:
    command = dict(leaves(cli))[path]
    values = {"home": str(tmp_path / "elsewhere"), "key": str(key_path), "server": "http://127.0.0.1:9"}
    for name in sorted(REFUSED[path]):
        before = sorted(p.name for p in home.iterdir()) if home.exists() else []
        result = CliRunner().invoke(
            cli, [f"--{name}", values[name], *path.split(), *minimal_args(command, tmp_path)]
        )
        assert result.exit_code == 2, (path, name, result.output)
        assert result.stderr.startswith(f"Error: `labelport {path}` does not use --{name}: ")
        assert result.stderr.endswith(".\n") and result.stderr.count("\n") == 1, result.stderr
        assert (sorted(p.name for p in home.iterdir()) if home.exists() else []) == before
        assert not (tmp_path / "elsewhere").exists() and not (tmp_path / "out").exists()


def test_every_other_command_uses_the_server_it_is_given(
    tmp_path: Path, home: Path, key_path: Path, closed_server: str
) -> None:
    failed = []
    for path, command in leaves(cli):
        if "server" in REFUSED.get(path, set()):
            continue
        args = ["--key", str(key_path), "--server", closed_server, *path.split()]
        args += [*minimal_args(command, tmp_path), *(a.format(tmp=tmp_path) for a in EXTRA.get(path, []))]
        result = CliRunner().invoke(cli, args, input="y\n")
        if path == "login":  # a link to the server's sign-in page, made with the key alone
            assert result.exit_code == 0 and f"{closed_server}/ui/login?key=" in result.stdout
            continue
        if result.exit_code != 1 or not result.stderr.startswith(
            f"Error: cannot reach the labelport server at {closed_server}"
        ):
            failed.append((path, result.exit_code, result.output))
    assert failed == []


def test_environment_defaults_are_not_refused(
    home: Path, key_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``$LABELPORT_SERVER`` set for the other commands does not stop ``labelport view`` from starting."""
    monkeypatch.setenv("LABELPORT_SERVER", "http://127.0.0.1:9")
    with socket.socket() as busy:  # view gets past its option checks and stops at the port
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(cli, ["--key", str(key_path), "view", "--port", str(port)])
    assert result.exit_code == 1 and "is in use" in result.stderr


def test_login_takes_server_after_the_command_as_the_readme_writes_it(key_path: Path) -> None:
    for args in (
        ["login", "--server", "https://labels.example"],
        ["--server", "https://labels.example", "login"],
    ):
        result = CliRunner().invoke(cli, ["--key", str(key_path), *args, "--minutes", "2"])
        assert result.exit_code == 0, result.output
        assert "https://labels.example/ui/login?key=SHA256" in result.stdout
    result = CliRunner().invoke(cli, ["--key", str(key_path), "login"], env={"LABELPORT_SERVER": ""})
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: login signs you in to a server's viewer: pass --server URL or set LABELPORT_SERVER.\n"
    )


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        (["view"], "does not exist"),
        (["view"], "is not a folder"),
        (["render", "p", "--title", "t", "-o", "out.png"], "does not exist"),
        (["serve", "--db", "s.db"], "does not exist"),
        (["serve", "--db", "s.db"], "is not a folder"),
    ],
)
def test_a_media_root_that_is_not_a_folder_is_one_sentence_and_exit_2(
    command: list[str], problem: str, tmp_path: Path, home: Path, key_path: Path
) -> None:
    given = tmp_path / "nonexistent"
    if problem == "is not a folder":
        given.write_text("a file")
    result = CliRunner().invoke(cli, ["--key", str(key_path), *command, "--media-root", str(given)])
    assert result.exit_code == 2, result.output
    assert result.stderr == f"Error: --media-root {given} {problem}.\n"
    assert not (tmp_path / "s.db").exists()


def test_serve_on_a_busy_port_is_one_sentence_naming_the_port(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        command = [
            sys.executable,
            "-c",
            "from labelport.cli import main; main()",
            "serve",
            "--db",
            str(tmp_path / "s.db"),
        ]
        done = subprocess.run(
            [*command, "--port", str(port)], capture_output=True, text=True, timeout=120, env=os.environ
        )
    assert done.returncode == 1, done.stderr
    assert done.stderr == f"Error: port {port} on 127.0.0.1 is in use; pass another with --port.\n"
    assert done.stdout == ""


def test_every_command_that_signs_reads_the_key_it_is_given(tmp_path: Path, home: Path) -> None:
    missing = tmp_path / "no-such-key"
    failed = []
    for path, command in leaves(cli):
        if "key" in REFUSED.get(path, set()):
            continue
        args = ["--key", str(missing), *path.split(), *minimal_args(command, tmp_path)]
        args += [a.format(tmp=tmp_path) for a in EXTRA.get(path, [])]
        if path == "login":
            args += ["--server", "http://127.0.0.1:9"]
        result = CliRunner().invoke(cli, args, input="y\n")
        if result.exit_code != 1 or str(missing) not in result.stderr or result.stderr.count("\n") != 1:
            failed.append((path, result.exit_code, result.output))
    assert failed == []


def test_view_prints_its_address_as_json_with_json(home: Path, key_path: Path) -> None:
    import json

    port = free_port()
    command = [sys.executable, "-c", "from labelport.cli import main; main()", "--key", str(key_path)]
    process = subprocess.Popen(
        [*command, "--json", "view", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline()]
        while lines[-1] not in ("}\n", ""):
            lines.append(process.stdout.readline())
        shown = json.loads("".join(lines))
        assert shown["address"].startswith(f"http://127.0.0.1:{port}/?token=")
        assert shown["project_hash"] is None
    finally:
        process.terminate()
        process.communicate(timeout=20)


def test_every_command_that_opens_a_store_opens_the_one_under_home(
    tmp_path: Path, key_path: Path, request: pytest.FixtureRequest
) -> None:
    """``login`` alone opens no store: it reads --home only to find the key (``HOME/config.json``)."""
    failed = []
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    request.addfinalizer(busy.close)
    for n, (path, command) in enumerate(leaves(cli)):
        if "home" in REFUSED.get(path, set()) or path == "login":
            continue
        home = tmp_path / f"home-{n}"
        args = ["--home", str(home), "--key", str(key_path), *path.split()]
        args += [*minimal_args(command, tmp_path), *(a.format(tmp=tmp_path) for a in EXTRA.get(path, []))]
        if path == "view":  # opens the store, then stops at a busy port instead of serving
            args += ["--port", str(busy.getsockname()[1])]
        CliRunner().invoke(cli, args, input="y\n")
        if not (home / "labelport.db").is_file():
            failed.append(path)
    assert failed == []
