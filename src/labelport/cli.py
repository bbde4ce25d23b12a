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

import csv
import importlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from labelport import __version__
from labelport.client import UserClient, default_home
from labelport.data import DataUnit
from labelport.errors import (
    DataError,
    ImportFailed,
    KeyFileError,
    LabelportError,
    NotFoundError,
    OntologyError,
    StoreError,
)
from labelport.keys import Identity
from labelport.labels import LabelRow
from labelport.ontology import Attribute, OntologyStructure
from labelport.service import LocalService, Progress
from labelport.store.base import ROLES, ProjectRecord

F = TypeVar("F", bound=Callable[..., Any])

#: The file name of the key ``labelport init`` makes when no key is given or found.
KEY_NAME = "id_ed25519"
#: Where a password for an encrypted key is read from (never an option: it would land in shell history).
PASSWORD_ENV = "LABELPORT_KEY_PASSWORD"

# -- state shared by every command -----------------------------------------------------------------


@dataclass
class State:
    """The group's options, and the client built from them on first use."""

    home: Path
    key: Path | None = None
    server: str | None = None
    json: bool = False
    _client: UserClient | None = field(default=None, repr=False)
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def find_key(self) -> Path | None:
        """The key to use: ``--key``/``LABELPORT_KEY``, else ``~/.ssh/id_ed25519``, else ``HOME/id_ed25519``.

        >>> State(home=Path("/nowhere"), key=Path("/k")).find_key()
        PosixPath('/k')
        """
        if self.key is not None:
            return self.key.expanduser()
        for candidate in (Path.home() / ".ssh" / KEY_NAME, self.home / KEY_NAME):
            if candidate.is_file():
                return candidate
        return None

    def client(self, *, embedded: bool = False) -> UserClient:
        """The client: the store under ``home``, or ``--server`` when one is given (and not ``embedded``)."""
        if self._client is None:
            key = self.find_key()
            if key is None:
                raise KeyFileError(
                    "no SSH key found; pass --key FILE, set LABELPORT_KEY, or run `labelport init`."
                )
            password = os.environ.get(PASSWORD_ENV) or None
            if self.server and not embedded:
                self._client = UserClient.create_with_ssh_private_key(
                    ssh_private_key_path=key, password=password, domain=self.server
                )
            else:
                self._client = UserClient.create_with_ssh_private_key(
                    ssh_private_key_path=key, password=password, home=self.home
                )
            service = self._client.service
            if isinstance(service, LocalService):
                self._closers.append(service.store.close)
        return self._client

    def close(self) -> None:
        for closer in self._closers:
            closer()
        self._closers.clear()

    def emit(self, result: Any, text: str | Callable[[], str]) -> None:
        """Print ``result`` as JSON with ``--json``, else the human ``text``."""
        if self.json:
            click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        else:
            click.echo(text if isinstance(text, str) else text())

    @contextmanager
    def progress(self, description: str) -> Iterator[Progress | None]:
        """A progress callback drawing a bar on stderr, when stderr is a terminal and not ``--json``."""
        with progress_bar(description, enabled=not self.json and sys.stderr.isatty()) as callback:
            yield callback


@contextmanager
def progress_bar(description: str, *, enabled: bool, console: Any = None) -> Iterator[Progress | None]:
    """Yield a ``callback(done, total)`` that draws a rich progress bar, or None when not ``enabled``.

    >>> with progress_bar("importing", enabled=False) as callback:
    ...     callback is None
    True
    """
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as Bar

    bar = Bar(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        transient=True,
        # Redrawn on each update rather than by a refresh thread: an import forks its validation
        # workers only in a process that runs no other thread.
        auto_refresh=False,
    )
    with bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, refresh=True)

        yield update


def one_sentence(error: BaseException) -> str:
    """An error's text on one line.

    >>> one_sentence(NotFoundError("project", "abc"))
    'No project with hash abc.'
    """
    return " ".join(str(error).split())


class LabelportGroup(click.Group):
    """The root group: turns a :class:`LabelportError` into one sentence on stderr and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LabelportError as exc:
            click.echo(f"Error: {one_sentence(exc)}", err=True)
            ctx.exit(1)
        finally:
            if isinstance(ctx.obj, State):
                ctx.obj.close()


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and isinstance(ctx.obj, State):
        ctx.obj.json = True


def json_option(f: F) -> F:
    """``--json`` on a command too: ``labelport project list --json`` works like ``labelport --json ...``."""
    option = click.option(
        "--json",
        is_flag=True,
        expose_value=False,
        callback=_set_json,
        help="Print the result as JSON on stdout.",
    )
    return option(f)


# -- small helpers -----------------------------------------------------------------------------------


def _read_bytes(path: Path, error: Callable[[str], LabelportError]) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise error(f"{path} cannot be read ({exc.strerror or exc}).") from None


def _read_json(path: Path, error: Callable[[str], LabelportError]) -> Any:
    try:
        return json.loads(_read_bytes(path, error))
    except (ValueError, UnicodeDecodeError) as exc:
        raise error(f"{path} is not valid JSON ({exc}).") from None


def _write_bytes(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise LabelportError(f"{path} cannot be written ({exc.strerror or exc}).") from None


def read_data_list(path: Path) -> list[tuple[str, int, int] | tuple[str, int, int, int]]:
    """Rows ``title,width,height[,frames]`` of a CSV file; a ``title,...`` header and blank lines are skipped.

    Raises :class:`DataError` naming the file and line of a malformed row.
    """
    text = _read_bytes(path, lambda message: DataError(message)).decode("utf-8-sig", errors="replace")
    rows: list[tuple[str, int, int] | tuple[str, int, int, int]] = []
    for line, fields in enumerate(csv.reader(text.splitlines()), 1):
        fields = [f.strip() for f in fields]
        if not any(fields) or fields[0].startswith("#"):
            continue
        if line == 1 and fields[0].lower() == "title":
            continue
        if len(fields) not in (3, 4):
            raise DataError(
                f"line {line}: expected title,width,height[,frames], got {len(fields)} fields.",
                file=str(path),
            )
        numbers = []
        for name, value in zip(("width", "height", "frames"), fields[1:], strict=False):
            if not value.isdecimal():
                raise DataError(f"line {line}: {name} must be a whole number, not {value!r}.", file=str(path))
            numbers.append(int(value))
        if len(numbers) == 3:
            rows.append((fields[0], numbers[0], numbers[1], numbers[2]))
        else:
            rows.append((fields[0], numbers[0], numbers[1]))
    if not rows:
        raise DataError("has no rows title,width,height[,frames].", file=str(path))
    return rows


def write_new_key(path: Path) -> Identity:
    """Make a new Ed25519 key at ``path`` (mode 0600, OpenSSH format) and its ``.pub`` beside it."""
    key = ed25519.Ed25519PrivateKey.generate()
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        identity = Identity(key)
        path.with_name(path.name + ".pub").write_text(identity.public_text + " labelport\n", encoding="utf-8")
    except OSError as exc:
        raise KeyFileError(f"cannot write a new key ({exc.strerror or exc}).", file=str(path)) from None
    return identity


def _server_function(module: str, name: str) -> Callable[..., Any]:
    """A function of the team server, imported only when a server command runs."""
    qualified = f"labelport.server.{module}"
    try:
        found: Callable[..., Any] = getattr(importlib.import_module(qualified), name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not qualified.startswith(exc.name):
            raise
        raise LabelportError(
            f"the team server is not part of this installation ({qualified} is missing)."
        ) from None
    return found


# -- rendering ---------------------------------------------------------------------------------------


def _project_dict(record: ProjectRecord) -> dict[str, Any]:
    return asdict(record)


def _attribute_lines(attribute: Attribute, indent: str) -> list[str]:
    lines = [f"{indent}{attribute.type.value} {attribute.name!r}  {attribute.feature_node_hash}"]
    for option in attribute.options:
        lines.append(f"{indent}  - {option.label}  {option.feature_node_hash}")
        for nested in option.attributes:
            lines.extend(_attribute_lines(nested, indent + "      "))
    return lines


def ontology_text(structure: OntologyStructure) -> str:
    """The ontology as an indented listing: objects with shape and feature hash, then classifications."""
    lines = ["objects:" if structure.objects else "objects: none"]
    width = max((len(o.title) for o in structure.objects), default=0)
    for obj in structure.objects:
        lines.append(f"  {obj.title:<{width}}  {obj.shape.value:<22}  {obj.feature_node_hash}")
        if obj.keypoints:
            lines.append(f"    keypoints: {', '.join(obj.keypoints)}")
        for attribute in obj.attributes:
            lines.extend(_attribute_lines(attribute, "    "))
    lines.append("classifications:" if structure.classifications else "classifications: none")
    for classification in structure.classifications:
        lines.append(f"  {classification.title}  {classification.feature_node_hash}")
        lines.extend(_attribute_lines(classification.attribute, "    "))
    return "\n".join(lines)


def _plural(count: int, noun: str) -> str:
    """``1 data unit``, ``2 data units``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _unit_line(unit: DataUnit) -> str:
    frames = f"  {unit.frames} frames" if unit.frames > 1 else ""
    return f"{unit.data_hash}  {unit.title}  {unit.data_type.value}  {unit.width}x{unit.height}{frames}"


def _short(value: Any, limit: int = 60) -> str:
    if isinstance(value, dict) and "size" in value:
        height, width = value["size"]
        return f"rle {width}x{height}"
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def label_rows_text(rows: Sequence[LabelRow]) -> str:
    """Label rows as a listing: one header line per data unit, one line per object on a frame."""
    if not rows:
        return "No label rows."
    lines = []
    for row in rows:
        counts = f"{len(row.object_instances)} objects, {len(row.classification_instances)} classifications"
        lines.append(f"{row.data_title}  data {row.data_hash}  branch {row.branch_name}: {counts}")
        for instance in row.object_instances:
            for frame in instance.get_annotations():
                lines.append(
                    f"  {instance.ontology_item.title}  {instance.object_hash}  frame {frame.frame}  "
                    f"{_short(frame.coordinates.to_json())}"
                    + ("" if frame.confidence == 1.0 else f"  confidence {frame.confidence:g}")
                )
        for classification in row.classification_instances:
            frames = ",".join(str(f) for f in sorted(classification.frames))
            lines.append(
                f"  {classification.ontology_item.title}  frames {frames}  {_short(classification.answer)}"
            )
    return "\n".join(lines)


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


@cli.command()
@json_option
@click.pass_obj
def init(state: State) -> None:
    """Create the home folder and its store, and an Ed25519 key there if no key is given or found.

    \b
        labelport init
        labelport --home ./labels --key ~/.ssh/id_rsa init
    """
    try:
        state.home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the home folder {state.home} ({exc.strerror or exc}).") from None
    key = state.find_key()
    created = key is None
    if key is None:
        key = state.home / KEY_NAME
        write_new_key(key)
        state.key = key
    # init prepares the local side, also for --server: the store, the key and your user in the store.
    identity = state.client(embedded=True).identity
    assert identity is not None
    public = key.with_name(key.name + ".pub")
    result = {
        "home": str(state.home),
        "store": str(state.home / "labelport.db"),
        "key": str(key),
        "public_key": str(public) if public.is_file() else None,
        "key_created": created,
        "fingerprint": identity.fingerprint,
    }
    new = " (new)" if created else ""
    state.emit(result, f"store: {result['store']}\nkey: {key}{new}\nfingerprint: {identity.fingerprint}")


# -- ontology ----------------------------------------------------------------------------------------


@cli.group()
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
    data = _read_json(file, lambda message: OntologyError(message))
    ontology_hash = state.client().create_ontology(title, data)
    state.emit({"ontology_hash": ontology_hash, "title": title}, ontology_hash)


@ontology.command("show")
@click.argument("ontology_hash", metavar="HASH")
@json_option
@click.pass_obj
def ontology_show(state: State, ontology_hash: str) -> None:
    """Show an ontology's objects (shapes, feature hashes, attributes) and classifications."""
    record = state.client().service.get_ontology(ontology_hash)
    result = {"ontology_hash": record.ontology_hash, "title": record.title, **record.structure.to_dict()}
    state.emit(result, lambda: f"{record.title}  {record.ontology_hash}\n{ontology_text(record.structure)}")


# -- project -----------------------------------------------------------------------------------------


@cli.group()
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
        structure = OntologyStructure.from_dict(
            _read_json(ontology_file, lambda message: OntologyError(message))
        )
    created = state.client().create_project(
        title, description=description, ontology_hash=ontology_hash, ontology=structure, from_coco=from_coco
    )
    state.emit(_project_dict(created.record), created.project_hash)


@project.command("list")
@json_option
@click.pass_obj
def project_list(state: State) -> None:
    """List the projects you can see."""
    records = state.client().list_projects()
    width = max((len(r.title) for r in records), default=0)
    state.emit(
        [_project_dict(r) for r in records],
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
        **_project_dict(found.record),
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
    state.client().service.add_member(project_hash, fingerprint, role)
    state.emit(
        {"project_hash": project_hash, "fingerprint": fingerprint, "role": role},
        f"{fingerprint} is now {role} of project {project_hash}.",
    )


# -- data --------------------------------------------------------------------------------------------


@cli.group()
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
        lambda: "\n".join([f"Added {_plural(len(units), 'data unit')}.", *(_unit_line(u) for u in units)]),
    )


@data.command("list")
@click.argument("project_hash", metavar="PROJECT")
@json_option
@click.pass_obj
def data_list(state: State, project_hash: str) -> None:
    """List a project's data units: hash, title, type, size, frames."""
    units = state.client().get_project(project_hash).list_data_units()
    state.emit([u.to_dict() for u in units], "\n".join(_unit_line(u) for u in units) or "No data units.")


# -- labels ------------------------------------------------------------------------------------------


@cli.group()
def labels() -> None:
    """Show label rows."""


@labels.command("show")
@click.argument("project_hash", metavar="PROJECT")
@click.option("--data-hash", metavar="HASH", help="Only this data unit.")
@click.option("--title", metavar="TITLE", help="Only data units with this exact title.")
@click.option("--branch", metavar="NAME", help="The branch to read. [default: main]")
@json_option
@click.pass_obj
def labels_show(
    state: State, project_hash: str, data_hash: str | None, title: str | None, branch: str | None
) -> None:
    """Show label rows: each object with its frames and pixel coordinates (--json: LabelRow.to_dict())."""
    rows = (
        state.client()
        .get_project(project_hash)
        .list_label_rows_v2(
            data_hashes=None if data_hash is None else [data_hash], data_title_eq=title, branch_name=branch
        )
    )
    if data_hash is not None and not rows:
        raise NotFoundError("data unit", data_hash)
    state.emit([r.to_dict() for r in rows], lambda: label_rows_text(rows))


# -- import and export -------------------------------------------------------------------------------


@cli.group("import")
def import_() -> None:
    """Import labels from a file."""


@import_.command("coco")
@click.argument("project_hash", metavar="PROJECT")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--match",
    default="auto",
    show_default=True,
    metavar="auto|MAPFILE.json",
    help="How COCO images find data units: by file name, or a JSON file mapping image ids (or file names) "
    "to data hashes or [data_hash, frame].",
)
@click.option(
    "--categories",
    default="by-name",
    show_default=True,
    metavar="by-name|create|MAPFILE.json",
    help="How categories find ontology objects: by name, by name creating the missing ones, "
    "or a JSON file mapping category ids (or names) to feature hashes.",
)
@click.option(
    "--on-error",
    type=click.Choice(["fail", "skip"]),
    default="fail",
    show_default=True,
    help="fail: any problem writes nothing; skip: import everything else.",
)
@click.option("--dry-run", is_flag=True, help="Check and report; write nothing.")
@click.option("--branch", metavar="NAME", help="The branch to import onto. [default: main]")
@click.option(
    "--confidence-field", metavar="NAME", help="The annotation field holding a confidence (e.g. score)."
)
@click.option(
    "--create-missing", is_flag=True, help="Create a data unit for each COCO image that matches none."
)
@click.option("--replace", is_flag=True, help="Remove earlier labels of the matched data units first.")
@click.option(
    "--report",
    "report_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the full import report as JSON to this file.",
)
@json_option
@click.pass_obj
def import_coco(
    state: State,
    project_hash: str,
    file: Path,
    match: str,
    categories: str,
    on_error: str,
    dry_run: bool,
    branch: str | None,
    confidence_field: str | None,
    create_missing: bool,
    replace: bool,
    report_file: Path | None,
) -> None:
    """Import a COCO file (instances, keypoints or a results list); prints the import report.

    Re-importing the same file updates what it imported before instead of adding duplicates.

    \b
        labelport import coco PROJECT instances.json --dry-run
        labelport import coco PROJECT detections.json --branch model-v2 --confidence-field score
    """
    target = state.client().get_project(project_hash)
    try:
        with state.progress("importing") as progress:
            report = target.import_coco(
                file,
                match=match,
                categories=categories,
                on_error=on_error,
                dry_run=dry_run,
                branch_name=branch,
                confidence_field=confidence_field,
                create_missing_data_units=create_missing,
                replace=replace,
                progress=progress,
            )
    except ImportFailed as exc:
        if exc.report is None:
            raise
        if report_file is not None:
            _write_bytes(report_file, exc.report.to_json())
        if state.json:
            click.echo(json.dumps(exc.report.to_dict(), indent=2, ensure_ascii=False))
        click.echo(exc.report.summary(), err=True)
        raise
    if report_file is not None:
        _write_bytes(report_file, report.to_json())
    state.emit(report.to_dict(), report.summary)


@cli.group("export")
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
@click.option("--branch", metavar="NAME", help="The branch to export. [default: main]")
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
    state: State, project_hash: str, output: Path, branch: str | None, rle: str | None, results: bool
) -> None:
    """Export a project's labels as a COCO file; prints the path and its size.

    \b
        labelport export coco PROJECT -o labels.json
    """
    target = state.client().get_project(project_hash)
    try:
        with state.progress("exporting") as progress:
            path = target.export_coco(output, progress=progress, branch_name=branch, rle=rle, results=results)
        size = path.stat().st_size
    except OSError as exc:
        raise LabelportError(f"{output} cannot be written ({exc.strerror or exc}).") from None
    state.emit({"path": str(path), "bytes": size}, f"Wrote {path} ({size:,} bytes).")


# -- the team server ---------------------------------------------------------------------------------


@cli.group()
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
@click.option("--db", required=True, envvar="LABELPORT_DB", metavar="URL", help="The server's database URL.")
@json_option
@click.pass_obj
def user_add(state: State, name: str, public_key_file: Path, admin: bool, db: str) -> None:
    """Add a user (or update their name) by their public key; prints their fingerprint.

    \b
        labelport user add ada --key ada.pub --db postgresql://labelport@db/labelport
    """
    text = _read_bytes(public_key_file, lambda message: KeyFileError(message)).decode(
        "utf-8", errors="replace"
    )
    record = _server_function("admin", "add_user")(db, name, text, admin=admin)
    state.emit(
        {
            "id": record.id,
            "name": record.name,
            "fingerprint": record.fingerprint,
            "is_admin": record.is_admin,
        },
        f"{record.name}  {record.fingerprint}{'  (admin)' if record.is_admin else ''}",
    )


@cli.command()
@click.option(
    "--db", required=True, envvar="LABELPORT_DB", metavar="URL", help="postgresql://... of the server."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option(
    "--port", default=8800, show_default=True, type=click.IntRange(1, 65535), help="The port to listen on."
)
@json_option
@click.pass_obj
def serve(state: State, db: str, host: str, port: int) -> None:
    """Run the team server on a PostgreSQL database until interrupted.

    \b
        labelport serve --db postgresql://labelport@db/labelport --port 8800
    """
    _server_function("app", "serve")(db, host, port)
    state.emit({"db": db, "host": host, "port": port, "stopped": True}, "Server stopped.")


def main() -> None:
    """The ``labelport`` script."""
    cli(prog_name="labelport")


if __name__ == "__main__":
    main()
