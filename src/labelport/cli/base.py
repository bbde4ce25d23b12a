"""What every command shares: the group's state, one-sentence errors, ``--json``, file helpers, rendering."""

from __future__ import annotations

import csv
import functools
import importlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar, cast

import click
from click.core import ParameterSource

from labelport import keys
from labelport.client import UserClient
from labelport.data import DataUnit
from labelport.errors import (
    DataError,
    KeyFileError,
    LabelportError,
    OntologyError,
)
from labelport.home import KEY_NAME as KEY_NAME
from labelport.home import default_key
from labelport.keys import Identity
from labelport.keys import write_new_key as write_new_key
from labelport.labels import LabelRow
from labelport.ontology import Attribute, OntologyStructure
from labelport.plural import plural as plural
from labelport.service import Progress
from labelport.store.base import ProjectRecord, Removed

F = TypeVar("F", bound=Callable[..., Any])

#: Where a password for an encrypted key is read from (never an option: it would land in shell history).
PASSWORD_ENV = keys.PASSWORD_ENV

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
        """The key to use: ``--key``/``LABELPORT_KEY``, else the one ``labelport init`` recorded in
        ``HOME/config.json``, else ``HOME/id_ed25519``, else ``~/.ssh/id_ed25519``.

        >>> State(home=Path("/nowhere"), key=Path("/k")).find_key()
        PosixPath('/k')
        """
        if self.key is not None:
            return self.key.expanduser()
        return default_key(self.home)

    def identity(self) -> Identity:
        """The user's key, found as :meth:`client` finds it."""
        key = self.find_key()
        if key is None:
            raise KeyFileError(
                "no SSH key found; pass --key FILE, set LABELPORT_KEY, or run `labelport init`."
            )
        return Identity.load(key, password=os.environ.get(PASSWORD_ENV) or None)

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
            self._closers.append(self._client.close)
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
    def progress(self, description: str, unit: str) -> Iterator[Progress | None]:
        """A progress callback drawing a bar on stderr, when stderr is a terminal and not ``--json``.

        ``unit`` names what the callback counts (``"bytes"`` draws sizes and a transfer speed).
        """
        enabled = not self.json and sys.stderr.isatty()
        with progress_bar(description, enabled=enabled, unit=unit) as callback:
            yield callback


@contextmanager
def progress_bar(
    description: str, *, enabled: bool, unit: str = "", console: Any = None
) -> Iterator[Progress | None]:
    """Yield a ``callback(done, total)`` that draws a rich progress bar, or None when not ``enabled``.

    A total of 0 means not known yet (the bar pulses). With ``unit="bytes"`` the counts are shown as
    sizes (``3.1/12.0 MB``) with a speed; any other unit is written after the counts.

    >>> with progress_bar("importing", enabled=False) as callback:
    ...     callback is None
    True
    """
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        ProgressColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )
    from rich.progress import Progress as Bar

    counts: list[ProgressColumn] = (
        [DownloadColumn(), TransferSpeedColumn()]
        if unit == "bytes"
        else [MofNCompleteColumn(), TextColumn(unit)]
    )
    bar = Bar(
        TextColumn("{task.description}"),
        BarColumn(),
        *counts,
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
            bar.update(task, completed=done, total=total or None, refresh=True)

        yield update


def one_sentence(error: BaseException) -> str:
    """An error's text on one line.

    >>> from labelport.errors import NotFoundError
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


def refuse(message: str) -> NoReturn:
    """A usage the command cannot honour: one sentence on stderr and exit 2 (no usage text around it)."""
    click.echo(f"Error: {message}", err=True)
    raise click.exceptions.Exit(2)


def not_used(**reasons: str) -> Callable[[F], F]:
    """Refuse the group's options this command cannot honour, each with the reason it gives.

    Only an option written on the command line is refused: an environment variable
    (``$LABELPORT_SERVER``, ``$LABELPORT_KEY``, ``$LABELPORT_HOME``) is a default for the commands
    that use it. The names refused are kept on the function as ``not_used`` (the tests read them).
    """

    def decorate(f: F) -> F:
        @functools.wraps(f)
        def checked(*args: Any, **kwargs: Any) -> Any:
            ctx = click.get_current_context()
            root = ctx.find_root()
            command = " ".join(["labelport", *ctx.command_path.split()[1:]])
            for name, reason in reasons.items():
                if root.get_parameter_source(name) is ParameterSource.COMMANDLINE:
                    refuse(f"`{command}` does not use --{name}: {reason}.")
            return f(*args, **kwargs)

        checked.not_used = tuple(reasons)  # type: ignore[attr-defined]
        return cast(F, checked)

    return decorate


def _existing_folders(
    _ctx: click.Context, _param: click.Parameter, value: tuple[Path, ...]
) -> tuple[Path, ...]:
    for folder in value:
        if not folder.expanduser().exists():
            refuse(f"--media-root {folder} does not exist.")
        if not folder.expanduser().is_dir():
            refuse(f"--media-root {folder} is not a folder.")
    return value


def media_roots_option(help: str) -> Callable[[F], F]:
    """``--media-root DIR`` (repeatable): each must be an existing folder, else one sentence and exit 2."""
    return click.option(
        "--media-root",
        "media_roots",
        multiple=True,
        type=click.Path(path_type=Path),
        callback=_existing_folders,
        help=help,
    )


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


def read_bytes(path: Path, error: Callable[[str], LabelportError]) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise error(f"{path} cannot be read ({exc.strerror or exc}).") from None


def read_json(path: Path, error: Callable[[str], LabelportError]) -> Any:
    try:
        return json.loads(read_bytes(path, error))
    except (ValueError, UnicodeDecodeError) as exc:
        raise error(f"{path} is not valid JSON ({exc}).") from None


def read_ontology(path: Path) -> OntologyStructure:
    """An ontology file (see docs/ontology.md); an :class:`OntologyError` names the file."""
    data = read_json(path, lambda message: OntologyError(message))
    try:
        return OntologyStructure.from_dict(data)
    except OntologyError as exc:
        raise OntologyError(exc.reason, path=exc.path, file=str(path)) from None


def write_bytes(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise LabelportError(f"{path} cannot be written ({exc.strerror or exc}).") from None


def read_data_list(path: Path) -> list[tuple[str, int, int] | tuple[str, int, int, int]]:
    """Rows ``title,width,height[,frames]`` of a CSV file; a ``title,...`` header and blank lines are skipped.

    Raises :class:`DataError` naming the file and line of a malformed row.
    """
    text = read_bytes(path, lambda message: DataError(message)).decode("utf-8-sig", errors="replace")
    rows: list[tuple[str, int, int] | tuple[str, int, int, int]] = []
    for line, fields in enumerate(csv.reader(text.splitlines()), 1):
        fields = [f.strip() for f in fields]
        if not any(fields) or fields[0].startswith("#"):
            continue
        if line == 1 and fields[0].lower() == "title":
            continue
        if len(fields) not in (3, 4):
            raise DataError(
                f"line {line}: expected title,width,height[,frames], got {plural(len(fields), 'field')}.",
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


def server_function(module: str, name: str) -> Callable[..., Any]:
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


def project_dict(record: ProjectRecord) -> dict[str, Any]:
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


def unit_line(unit: DataUnit) -> str:
    frames = f"  {plural(unit.frames, 'frame')}" if unit.frames > 1 else ""
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
        counts = (
            f"{plural(len(row.object_instances), 'object')}, "
            f"{plural(len(row.classification_instances), 'classification')}"
        )
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


def removed_text(what: str, removed: Removed) -> str:
    """One line saying what a deletion removed.

    >>> removed_text("Deleted branch preds", Removed(label_rows=2, objects=1))
    'Deleted branch preds: 2 label rows, 1 object, 0 classifications.'
    """
    parts = [
        plural(removed.data_units, "data unit") if removed.projects or removed.data_units else "",
        plural(removed.label_rows, "label row") if removed.label_rows or removed.data_units else "",
        plural(removed.objects, "object"),
        plural(removed.classifications, "classification"),
    ]
    return f"{what}: {', '.join(p for p in parts if p)}."
