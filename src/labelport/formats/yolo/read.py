"""Read an Ultralytics YOLO dataset (``data.yaml`` + ``images/<split>`` + ``labels/<split>``) into the neutral dataset.

Each line of a label file is one object: ``class cx cy w h`` (a box), ``class x1 y1 x2 y2 ...`` (a
polygon), ``class cx cy w h`` + keypoints (pose, with ``kpt_shape`` in the yaml) or ``class x1 y1 ... x4
y4`` (an oriented box, ``task: obb``). Coordinates are fractions of the image, whose size comes from
the image file's header, or else from a data unit of that name (``sizes``); with neither the line is
refused. Class ids follow ``names``' order: class k is category k + 1, with ``yolo_id`` k kept.

``read_yolo("dataset/")`` returns a ``Dataset``; every problem names its file and line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labelport import geometry
from labelport.errors import FormatError
from labelport.formats.base import (
    COORDINATE_LIMIT,
    Dataset,
    Place,
    Sizes,
    capped_bytes,
    far_coordinate,
    image_size,
    read_bytes,
    read_lines,
    text_lines,
)
from labelport.formats.coco.validate import short
from labelport.formats.reach import OUTSIDE, Reach
from labelport.imports.policy import ErrorPolicy
from labelport.limits import MAX_KEYPOINTS, MAX_LINE_NUMBERS
from labelport.plural import plural

YAML_NAMES = ("data.yaml", "dataset.yaml")
IMAGE_SUFFIXES = frozenset(
    (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".dng", ".mpo")
)
TASKS = ("detect", "segment", "pose", "obb")
SPLITS = ("train", "val", "test")


@dataclass
class _Config:
    root: Path
    yaml: Path
    names: list[tuple[int, str]]
    task: str | None
    kpt_shape: tuple[int, int] | None
    splits: list[tuple[str, Path]]
    #: "split/stem" -> (file name, width, height), from images.meta when there is one
    meta: dict[str, tuple[str, int, int]]
    #: the dataset's folder (the yaml's), which a server's reader never leaves
    reach: Reach


def find_yaml(source: Path) -> Path | None:
    """The dataset's yaml: the source itself, or ``data.yaml``/``dataset.yaml`` in it."""
    if source.is_file():
        return source if source.suffix in (".yaml", ".yml") else None
    for name in YAML_NAMES:
        if (source / name).is_file():
            return source / name
    return None


def _load_yaml(path: Path) -> Any:
    import yaml

    text = capped_bytes(path, "a dataset yaml")
    try:
        return yaml.safe_load(text.decode("utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise FormatError(
            "yolo_yaml",
            f"is not valid YAML ({exc.problem}).",
            file=str(path),
            line=None if mark is None else mark.line + 1,
        ) from None
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
        raise FormatError("yolo_yaml", f"cannot be read as YAML ({exc}).", file=str(path)) from None
    except RecursionError:
        raise FormatError(
            "yolo_yaml", "nests lists or mappings too deeply to read.", file=str(path)
        ) from None


def _names(raw: Any, file: str) -> list[tuple[int, str]]:
    if isinstance(raw, list) and all(isinstance(n, (str, int)) for n in raw):
        return [(i, str(n)) for i, n in enumerate(raw)]
    if isinstance(raw, dict):
        out = []
        for key, name in raw.items():
            if isinstance(key, str) and key.isdigit():
                key = int(key)
            if type(key) is not int or key < 0:
                raise FormatError(
                    "yolo_names", f"class ids are whole numbers >= 0, not {key!r}.", file=file, path="names"
                )
            out.append((key, str(name)))
        return sorted(out)
    raise FormatError(
        "yolo_names",
        "needs 'names', a list of class names or a map of class id to name.",
        file=file,
        path="names",
    )


def read_config(source: Path, task: str | None = None, *, confined: bool = False) -> _Config:
    """The yaml's names, task, key-point shape and split folders; a :class:`FormatError` when it has none.

    ``confined`` (a server): ``path:`` and every split must lie inside the yaml's folder."""
    yaml_path = find_yaml(source)
    if yaml_path is None:
        raise FormatError("yolo_yaml", f"has no {' or '.join(YAML_NAMES)}.", file=str(source))
    cfg = _load_yaml(yaml_path)
    file = str(yaml_path)
    if not isinstance(cfg, dict):
        raise FormatError("yolo_yaml", "must hold a YAML mapping.", file=file)
    names = _names(cfg.get("names"), file)
    if task is None and isinstance(cfg.get("task"), str):
        task = cfg["task"]
    if task is not None and task not in TASKS:
        raise FormatError(
            "yolo_task", f"task must be one of {', '.join(TASKS)}, not {task!r}.", file=file, path="task"
        )
    kpt = cfg.get("kpt_shape")
    kpt_shape = None
    if kpt is not None:
        if not (
            isinstance(kpt, list)
            and len(kpt) == 2
            and all(type(k) is int for k in kpt)
            and 1 <= kpt[0] <= MAX_KEYPOINTS
            and kpt[1] in (2, 3)
        ):
            raise FormatError(
                "yolo_kpt_shape",
                f"kpt_shape is [keypoints, 2 or 3] with 1 to {plural(MAX_KEYPOINTS, 'keypoint')}, not {short(kpt)}.",
                file=file,
                path="kpt_shape",
            )
        kpt_shape = (kpt[0], kpt[1])
        task = task or "pose"
    root = yaml_path.parent
    reach = Reach(root, confined=confined)
    given = cfg.get("path")
    if isinstance(given, str) and given:
        mend = " (leave path out, or name a folder inside the dataset)"
        candidate = reach.named(root / given, given, file=file, key="path", hint=mend)
        root = candidate if candidate.is_dir() else root  # a path from another machine: the yaml's folder
    splits: list[tuple[str, Path]] = []
    # train, val, test; and any other subset as labelport writes one (``Batch 2: images/Batch 2``)
    named = [k for k, v in cfg.items() if isinstance(k, str) and k not in SPLITS and v == f"images/{k}"]
    for key in (*SPLITS, *named):
        entries = cfg.get(key)
        listed = isinstance(entries, list)
        given_entries = (
            list(entries) if isinstance(entries, list) else [entries] if isinstance(entries, str) else []
        )
        for i, entry in enumerate(given_entries):
            text = str(entry)
            found = root / text
            # Roboflow's "../train/images", as Ultralytics reads it (on a server, never a place outside)
            if text.startswith("../") and ((confined and not reach.is_inside(found)) or not found.exists()):
                found = root / text[3:]
            splits.append((key, reach.named(found, text, file=file, key=f"{key}[{i}]" if listed else key)))
    if not splits:  # no split keys: every folder under labels/
        labels = root / "labels"
        splits = (
            [(p.name, root / "images" / p.name) for p in sorted(labels.iterdir()) if p.is_dir()]
            if labels.is_dir()
            else []
        )
    return _Config(
        root, yaml_path, names, task, kpt_shape, splits, _read_meta(yaml_path.parent / "images.meta"), reach
    )


def _read_meta(path: Path) -> dict[str, tuple[str, int, int]]:
    """``images.meta`` (``split/name height width`` a line, as labelport writes it in Datumaro's form)."""
    import shlex

    found: dict[str, tuple[str, int, int]] = {}
    if path.is_file():
        for line in read_lines(path, "yolo_meta", "an images.meta file"):
            try:
                parts = shlex.split(line, comments=True)
            except ValueError:
                continue
            if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit() and "/" in parts[0]:
                split, name = parts[0].split("/", 1)
                found[f"{split}/{Path(name).with_suffix('').as_posix()}"] = (
                    name,
                    int(parts[2]),
                    int(parts[1]),
                )
    return found


def _name_lines(path: Path) -> dict[str, int]:
    """The 1-based line of each class of the yaml's ``names`` ({"names[0]": 3, ...}), for the places of
    the categories read from it; {} when the yaml cannot be composed (it was loaded already)."""
    import yaml

    try:
        root = yaml.compose(read_bytes(path).decode("utf-8-sig"), Loader=yaml.SafeLoader)
    except (yaml.YAMLError, UnicodeDecodeError, OSError, RecursionError):
        return {}
    found: dict[str, int] = {}
    for key, value in root.value if isinstance(root, yaml.MappingNode) else []:
        if isinstance(key, yaml.ScalarNode) and key.value == "names":
            if isinstance(value, yaml.SequenceNode):
                found |= {f"names[{i}]": item.start_mark.line + 1 for i, item in enumerate(value.value)}
            elif isinstance(value, yaml.MappingNode):
                found |= {f"names[{k.value}]": k.start_mark.line + 1 for k, _ in value.value}
    return found


def _labels_dir(images: Path) -> Path:
    """Ultralytics' rule: the last ``images`` folder of the path becomes ``labels``."""
    parts = list(images.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts)
    return images.parent / "labels" / images.name


def _split_items(entry: Path, root: Path, reach: Reach) -> list[tuple[str, Path | None, Path | None]]:
    """(relative stem, image file, label file) for one split entry: a folder of images, or a .txt list."""
    images: dict[str, Path] = {}
    if entry.is_file() and entry.suffix == ".txt" and reach.may_read(entry):
        base = entry.parent
        for number, line in enumerate(read_lines(entry, "yolo_split", "a YOLO split list"), 1):
            if line.strip():
                p = Path(line.strip())
                near = base / p  # beside the list, else under the dataset's root (on a server: inside)
                p = near if (not reach.confined or reach.is_inside(near)) and near.exists() else root / p
                p = reach.named(p, line.strip(), file=str(entry), line=number)
                images[str(p.with_suffix(""))] = p
        out: list[tuple[str, Path | None, Path | None]] = []
        for stem in sorted(images):
            label = _labels_dir(images[stem]).with_suffix(".txt")
            out.append((Path(stem).name, images[stem], label if label.is_file() else None))
        return out
    label_dir = _labels_dir(entry)
    if entry.is_dir():
        for p in entry.rglob("*"):
            if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file():
                images[p.relative_to(entry).with_suffix("").as_posix()] = p
    labels: dict[str, Path] = {}
    if label_dir.is_dir():
        for p in label_dir.rglob("*.txt"):
            labels[p.relative_to(label_dir).with_suffix("").as_posix()] = p
    return [(stem, images.get(stem), labels.get(stem)) for stem in sorted(set(images) | set(labels))]


def read_yolo(
    source: str | Path,
    *,
    on_error: str = "fail",
    sizes: Sizes | None = None,
    task: str | None = None,
    confined: bool = False,
) -> Dataset:
    """Read a YOLO dataset folder (or its yaml) into the neutral dataset; see the module docstring.
    ``confined`` (a server): nothing outside the yaml's folder is read (:mod:`labelport.formats.reach`)."""
    policy = ErrorPolicy.of(on_error)
    path = Path(source).expanduser()
    config = read_config(path, task, confined=confined)
    data = Dataset(name=path.name)
    categories = {}
    lines = _name_lines(config.yaml)
    for k, name in config.names:
        extra: dict[str, Any] = {"yolo_id": k}
        if config.kpt_shape is not None:
            extra |= {"keypoints": [str(i) for i in range(config.kpt_shape[0])], "skeleton": []}
        place = Place(str(config.yaml), lines.get(f"names[{k}]"), f"names[{k}]")
        categories[k] = data.category(name, place=place, **extra)
    seen: set[Path] = set()
    for split, entry in config.splits:
        if entry.resolve() in seen:  # "val: images/train" (a val split that is the train images)
            continue
        seen.add(entry.resolve())
        if not entry.exists() and not _labels_dir(entry).exists():
            data.dropped[f"yolo splits named in {config.yaml.name} that do not exist"] = (
                data.dropped.get(f"yolo splits named in {config.yaml.name} that do not exist", 0) + 1
            )
            continue
        for stem, image, label in _split_items(entry, config.root, config.reach):
            _read_item(data, policy, config, categories, split, stem, image, label, sizes)
    policy.finish()
    data.problems = policy.problems
    data.outside = sorted(config.reach.outside)
    return data


def _read_item(
    data: Dataset,
    policy: ErrorPolicy,
    config: _Config,
    categories: dict[int, int],
    split: str,
    stem: str,
    image: Path | None,
    label: Path | None,
    sizes: Sizes | None,
) -> None:
    for named in (image, label):
        if named is not None and not config.reach.may_read(named):
            policy.problem(OUTSIDE, str(named), "is a link to a file outside the dataset's folder; refused.")
            return
    size = image_size(image) if image is not None else None
    file_name = None if image is None else f"{Path(stem).parent.as_posix()}/{image.name}".removeprefix("./")
    where = str(label or image)
    place = Place(str(image)) if size is not None else None  # the size is the image file's
    if size is None and f"{split}/{stem}" in config.meta:
        name, w, h = config.meta[f"{split}/{stem}"]
        file_name, size = file_name or name, (w, h)
        place = Place(str(config.yaml.parent / "images.meta"))
    if size is None and sizes is not None:
        found = sizes(file_name or stem)
        if found is not None:
            file_name = file_name or f"{Path(stem).parent.as_posix()}/{Path(found[0]).name}".removeprefix(
                "./"
            )
            size = (found[1], found[2])
    if size is None:
        policy.problem(
            "yolo_image_size",
            where,
            f"no readable image file for {stem!r} and no data unit of that name: YOLO coordinates are "
            "fractions of the image's size, which is unknown.",
        )
        return
    image_id = data.image(
        file_name or f"{stem}.jpg", size[0], size[1], place=place or Place(where), yolo_split=split
    )
    if label is None:
        return
    for number, line in text_lines(label, "a YOLO label file", "yolo_file", policy):
        if line.strip():
            ann = _parse_line(
                line, config, size, lambda code, msg, n=number: policy.problem(code, str(label), msg, line=n)
            )
            if ann is not None:
                place = Place(str(label), line=number)
                data.annotation(image_id, categories[ann.pop("class")], place=place, **ann)


def _parse_line(line: str, config: _Config, size: tuple[int, int], problem: Any) -> dict[str, Any] | None:
    parts = line.split(maxsplit=MAX_LINE_NUMBERS + 1)  # never more than the bound, however long
    too_many = _count_problem(len(parts) - 1, config.task)
    if too_many is not None:
        problem("yolo_fields", too_many)
        return None
    try:
        cls = int(parts[0])
    except ValueError:
        problem("yolo_class", f"the class id must be a whole number, not {parts[0]!r}.")
        return None
    known = dict(config.names)
    if cls not in known:
        problem("yolo_class", f"class id {cls} is not in names ({len(known)} classes in {config.yaml.name}).")
        return None
    try:
        values = [float(v) for v in parts[1:]]
    except ValueError:
        bad = next(v for v in parts[1:] if not _is_float(v))
        problem("yolo_number", f"{bad!r} is not a number.")
        return None
    if not all(math.isfinite(v) for v in values):
        problem("yolo_number", "coordinates must be finite numbers.")
        return None
    width, height = size
    if values and max(map(abs, values)) * max(width, height) > COORDINATE_LIMIT:
        far = far_coordinate({repr(parts[i + 1]): v * max(width, height) for i, v in enumerate(values)})
        problem("yolo_coordinate", f"as pixels of this {width}x{height} image, {far}")
        return None
    n = len(values)
    task = config.task
    if task == "pose":
        assert config.kpt_shape is not None
        count, dims = config.kpt_shape
        if n != 4 + count * dims:
            problem(
                "yolo_fields",
                f"a pose line holds a class, 4 box numbers and {count}x{dims} key-point numbers ({4 + count * dims}); this one has {n}.",
            )
            return None
        ann = _box(values[:4], width, height, problem)
        if ann is None:
            return None
        keypoints: list[Any] = []
        for i in range(count):
            x, y = values[4 + i * dims], values[5 + i * dims]
            v = values[6 + i * dims] if dims == 3 else (0 if x == 0 and y == 0 else 2)
            if v not in (0, 1, 2):
                problem("yolo_visibility", f"key-point {i} has visibility {v:g}; it is 0, 1 or 2.")
                return None
            keypoints += [_px(x * width), _px(y * height), int(v)]
        ann["keypoints"] = keypoints
        ann["num_keypoints"] = sum(1 for i in range(2, len(keypoints), 3) if keypoints[i])
    elif task == "obb":
        if n != 8:
            problem(
                "yolo_fields",
                f"an oriented box line holds a class and 4 corners (8 numbers); this one has {n}.",
            )
            return None
        ann = _obb(values, width, height)
    elif n == 4:
        ann = _box(values, width, height, problem)
    elif task != "detect" and n >= 6 and n % 2 == 0:
        ring = [_px(v * (width if i % 2 == 0 else height)) for i, v in enumerate(values)]
        ann = {"segmentation": [ring], "bbox": [_px(v) for v in geometry.polygons_bbox([ring])]}
    else:
        wanted = (
            "a class and 4 numbers (cx cy w h)"
            if task == "detect"
            else "a class and 4 numbers (a box) or 3 or more x y pairs (a polygon)"
        )
        problem("yolo_fields", f"a line holds {wanted}; this one has {plural(n, 'number')}.")
        return None
    if ann is not None:
        ann["class"] = cls
    return ann


def _count_problem(count: int, task: str | None) -> str | None:
    """Why a line of ``count`` numbers after its class cannot be one (checked before any is parsed)."""
    if count <= MAX_LINE_NUMBERS and (task != "detect" or count == 4):
        return None
    wanted = (
        "a class and 4 numbers (cx cy w h)"
        if task == "detect"
        else f"a class and at most {plural(MAX_LINE_NUMBERS, 'number')}"
    )
    has = (
        f"more than {plural(MAX_LINE_NUMBERS, 'number')}"
        if count > MAX_LINE_NUMBERS
        else plural(count, "number")
    )
    return f"a line holds {wanted}; this one has {has}."


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _px(value: float) -> int | float:
    """A pixel coordinate, rounded to 1/10,000 of a pixel (well inside the 6 decimals YOLO files carry)."""
    rounded = round(float(value), 4)
    return int(rounded) if rounded.is_integer() else rounded


def _box(values: list[float], width: int, height: int, problem: Any) -> dict[str, Any] | None:
    cx, cy, w, h = values
    if w <= 0 or h <= 0:
        problem("yolo_box_size", f"a box's width and height must be > 0, not {w:g} x {h:g}.")
        return None
    return {"bbox": [_px((cx - w / 2) * width), _px((cy - h / 2) * height), _px(w * width), _px(h * height)]}


def _obb(values: list[float], width: int, height: int) -> dict[str, Any]:
    xs = [values[i] * width for i in range(0, 8, 2)]
    ys = [values[i] * height for i in range(1, 8, 2)]
    w = math.hypot(xs[1] - xs[0], ys[1] - ys[0])
    h = math.hypot(xs[2] - xs[1], ys[2] - ys[1])
    theta = math.degrees(math.atan2(ys[1] - ys[0], xs[1] - xs[0])) % 360
    cx, cy = sum(xs) / 4, sum(ys) / 4
    return {
        "bbox": [_px(cx - w / 2), _px(cy - h / 2), _px(w), _px(h)],
        "attributes": {"rotation": _px(theta)},
    }
