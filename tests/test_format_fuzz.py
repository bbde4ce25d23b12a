"""Every format reader, fed broken files, says one typed sentence: never a traceback.

Each format's valid template (tests/format_templates.py) is broken one way at a time: a file cut
short, bytes that are not UTF-8 or text in another encoding, nesting 100,000 deep, and a value of
the wrong type at every level (every JSON node, every YAML key, every XML attribute and text, every
number of a YOLO line). The broken dataset goes through the whole import (the reader, then the COCO
pipeline, dry): it imports, or it raises a :class:`LabelportError`; nothing else may come out.
"""

from __future__ import annotations

import json
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from format_templates import VARIANTS, source, write
from labelport import UserClient
from labelport.convert import convert_labels
from labelport.errors import LabelportError

Files = dict[str, bytes]
#: values of the wrong type (or the right type, out of range) put where a value was
WRONG: list[Any] = [None, True, -1, 0, 1e300, "x", "", [], [1, "a"], {}, {"a": None}]
#: texts put where an XML attribute or text, or a YOLO number, was
WRONG_TEXT = [
    "",
    "x",
    "-1",
    "0",
    "1e400",
    "nan",
    "-inf",
    "1e300",
    "3.5",
    "9" * 400,
    "\u00e9",
    ";;",
    ",",
    "1,2;",
]


def truncations(files: Files) -> Iterator[tuple[str, Files]]:
    for name, data in files.items():
        for cut in sorted({0, 1, len(data) // 3, len(data) // 2, len(data) - 1}):
            yield f"{name} cut at {cut}", {**files, name: data[:cut]}


def encodings(files: Files) -> Iterator[tuple[str, Files]]:
    for name, data in files.items():
        if name.endswith(".png"):
            continue
        middle = len(data) // 2
        yield f"{name} with bytes not UTF-8", {**files, name: data[:middle] + b"\xff\xfe\x80" + data[middle:]}
        yield f"{name} in UTF-16", {**files, name: data.decode("utf-8").encode("utf-16")}
        yield (
            f"{name} in Latin-1 with an accent",
            {**files, name: (data.decode() + " \u00e9").encode("latin-1")},
        )


def deep(files: Files) -> Iterator[tuple[str, Files]]:
    for name in files:
        if name.endswith((".json", ".yaml")):
            yield f"{name} nested deep", {**files, name: b"[" * 100_000}
            yield f"{name} nested deep, closed", {**files, name: b"[" * 100_000 + b"]" * 100_000}
        elif name.endswith(".xml"):
            yield f"{name} nested deep", {**files, name: b"<a>" * 100_000 + b"</a>" * 100_000}
        elif name.endswith(".png"):
            yield f"{name} not a PNG", {**files, name: b"not a png at all"}


def _json_paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _json_paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _json_paths(value, (*path, i))


def _replaced(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[path[0]] = _replaced(node[path[0]], path[1:], value)
    return copy


def json_types(files: Files) -> Iterator[tuple[str, Files]]:
    for name, data in files.items():
        if name.endswith(".json"):
            doc = json.loads(data)
            for path in _json_paths(doc):
                for value in WRONG:
                    yield (
                        f"{name} {path} = {value!r}",
                        {**files, name: json.dumps(_replaced(doc, path, value)).encode()},
                    )


def yaml_types(files: Files) -> Iterator[tuple[str, Files]]:
    for name, data in files.items():
        if name.endswith(".yaml"):
            doc = yaml.safe_load(data)
            for key in [*doc, "path", "kpt_shape", "task", "val", "test"]:
                for value in WRONG:
                    changed = {**doc, key: value}
                    yield f"{name} {key} = {value!r}", {**files, name: yaml.safe_dump(changed).encode()}


def _xml_changed(data: bytes, index: int, change: Callable[[ET.Element, ET.Element | None], None]) -> bytes:
    """The XML with its ``index``-th element (document order) changed by ``change(element, parent)``."""
    root = ET.fromstring(data)
    parents = {child: parent for parent in root.iter() for child in parent}
    element = list(root.iter())[index]
    change(element, parents.get(element))
    return ET.tostring(root)


def _set_text(text: str) -> Callable[[ET.Element, ET.Element | None], None]:
    return lambda element, _parent: setattr(element, "text", text)


def _set_attribute(name: str, text: str) -> Callable[[ET.Element, ET.Element | None], None]:
    return lambda element, _parent: element.set(name, text)


def _remove(element: ET.Element, parent: ET.Element | None) -> None:
    if parent is not None:
        parent.remove(element)


def _twice(element: ET.Element, parent: ET.Element | None) -> None:
    if parent is not None:
        parent.append(element)


def xml_types(files: Files) -> Iterator[tuple[str, Files]]:
    for name, data in files.items():
        if not name.endswith(".xml"):
            continue
        for index, element in enumerate(ET.fromstring(data).iter()):
            changes = [(f"text {t!r}", _set_text(t)) for t in WRONG_TEXT]
            changes += [("removed", _remove), ("twice", _twice)]
            changes += [(f"@{a}={t!r}", _set_attribute(a, t)) for a in element.attrib for t in WRONG_TEXT]
            for said, change in changes:
                yield (
                    f"{name} <{element.tag}> {index} {said}",
                    {**files, name: _xml_changed(data, index, change)},
                )


def line_tokens(files: Files) -> Iterator[tuple[str, Files]]:
    for name, data in files.items():
        if name.startswith("labels/"):
            lines = data.decode().splitlines()
            for n, line in enumerate(lines):
                tokens = line.split()
                for k in range(len(tokens)):
                    for text in WRONG_TEXT:
                        broken = [*tokens[:k], text, *tokens[k + 1 :]]
                        changed = [*lines[:n], " ".join(broken), *lines[n + 1 :]]
                        yield (
                            f"{name} line {n + 1} token {k} = {text!r}",
                            {**files, name: "\n".join(changed).encode()},
                        )
                yield (
                    f"{name} line {n + 1} of 400,000 numbers",
                    {**files, name: (f"0 {' '.join(['0.5'] * 400_000)}\n").encode()},
                )


MUTATIONS = (truncations, encodings, deep, json_types, yaml_types, xml_types, line_tokens)
EVERY_TEMPLATE = pytest.mark.parametrize(
    ("fmt", "make"),
    [(fmt, make) for fmt, makes in VARIANTS.items() for make in makes],
    ids=lambda v: getattr(v, "__name__", v),
)


@EVERY_TEMPLATE
def test_every_broken_file_is_one_sentence(
    tmp_path: Path, client: UserClient, fmt: str, make: Callable[[], Files]
) -> None:
    project = client.create_project("fuzz")
    template = make()
    failures: list[str] = []
    for n, (case, files) in enumerate(m for mutate in MUTATIONS for m in mutate(template)):
        folder = write(files, tmp_path / str(n))
        try:
            project.import_labels(
                source(fmt, folder), fmt, categories="create", create_missing_data_units=True, dry_run=True
            )
        except LabelportError:
            pass
        except Exception as exc:  # what this test looks for
            said = re.sub(r"\s+", " ", str(exc))[:200]
            failures.append(f"{case}: {type(exc).__name__}: {said}")
    assert not failures, f"{len(failures)} tracebacks:\n" + "\n".join(failures)


@EVERY_TEMPLATE
def test_each_template_imports_whole(
    tmp_path: Path, client: UserClient, fmt: str, make: Callable[[], Files]
) -> None:
    files = make()
    report = client.create_project("t").import_labels(
        source(fmt, write(files, tmp_path)), fmt, categories="create", create_missing_data_units=True
    )
    assert report.ok and report.counts.imported >= 1 and report.counts.warnings == 0, report.summary()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
#: keys a Label Studio value or result has, so that random values land where the reader looks
LS_KEYS = st.sampled_from(
    ["x", "y", "width", "height", "rotation", "points", "rle", "format", "rectanglelabels", "polygonlabels",
     "keypointlabels", "brushlabels", "type", "value", "original_width", "original_height", "score"]
)  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["rectanglelabels", "polygonlabels", "keypointlabels", "brushlabels", "x"]),
       value=st.dictionaries(LS_KEYS, JSON, max_size=6), result=st.dictionaries(LS_KEYS, JSON, max_size=3))  # fmt: skip
def test_any_label_studio_result_is_read_or_one_sentence(
    tmp_path: Path, client: UserClient, kind: str, value: dict[str, Any], result: dict[str, Any]
) -> None:
    tasks = [{"data": {"image": "a.png"}, "annotations": [{"result": [
        {"type": kind, "original_width": 40, "original_height": 30, "value": value, **result}
    ]}]}]  # fmt: skip
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps(tasks))
    _import_or_sentence(client, path, "labelstudio")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.lists(st.sampled_from([*WRONG_TEXT, "0", "1", "0.5", "1e308", "-1e308"]), max_size=12), max_size=3),
       task=st.sampled_from(["", "task: obb\n", "task: segment\n", "kpt_shape: [2, 3]\n", "task: detect\n"]))  # fmt: skip
def test_any_yolo_line_is_read_or_one_sentence(
    tmp_path: Path, client: UserClient, lines: list[list[str]], task: str
) -> None:
    files = {
        **VARIANTS["yolo"][0](),
        "labels/train/a.txt": "\n".join(" ".join(line) for line in lines).encode(),
    }
    files["data.yaml"] += task.encode()
    _import_or_sentence(client, write(files, tmp_path / "yolo"), "yolo")


def _import_or_sentence(client: UserClient, path: Path, fmt: str) -> None:
    project = client.create_project(f"h-{uuid.uuid4().hex}")  # one project per example
    try:
        project.import_labels(path, fmt, categories="create", create_missing_data_units=True, on_error="skip")
    except LabelportError as exc:
        assert str(exc) and "Traceback" not in str(exc)


#: every this many broken files (of some 3,000) is also converted into every other format
CONVERT_STRIDE = 25
TARGETS = {"coco": "o.json", "yolo": "o", "voc": "o", "cvat": "o.xml", "labelstudio": "tasks.json"}


def test_broken_files_that_import_also_convert_or_are_one_sentence(tmp_path: Path) -> None:
    # what a reader accepts from a broken file, every writer must write or refuse in one sentence
    # (a polygon vertex at 1e300 once crashed the VOC writer's rasterising)
    cases = [
        (fmt, case, files)
        for fmt, makes in VARIANTS.items()
        for make in makes
        for mutate in MUTATIONS
        for case, files in mutate(make())
    ]
    failures: list[str] = []
    for n, (fmt, case, files) in enumerate(cases[::CONVERT_STRIDE]):
        folder = write(files, tmp_path / str(n))
        for to, name in TARGETS.items():
            try:
                convert_labels(source(fmt, folder), tmp_path / f"{n}-{to}" / name, from_format=fmt, to_format=to,
                               on_error="skip")  # fmt: skip
            except LabelportError:
                pass
            except Exception as exc:  # what this test looks for
                failures.append(f"{fmt} {case} -> {to}: {type(exc).__name__}: {str(exc)[:200]}")
    assert not failures, "\n".join(failures)
