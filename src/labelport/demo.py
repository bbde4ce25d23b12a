"""A two-minute tour: images and COCO labels in, the store, COCO out, and a re-import without duplicates.

Run it with ``make demo`` or::

    python -m labelport.demo              # everything in ./demo-output/, kept afterwards
    python -m labelport.demo --home DIR   # everything in DIR instead

Each run starts clean: the folder is emptied first (only a folder the demo made, or an empty one).
The COCO file it writes has boxes, polygons, one crowd region as run-length encoding and one
keypoint skeleton, so every path of the importer runs once; the pictures show what those labels
describe (a red sign, brown roofs, a blue puddle, a stick figure).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import click
import numpy as np
from PIL import Image, ImageDraw

from labelport.cli import one_sentence
from labelport.client import Project, UserClient
from labelport.errors import ImportFailed, LabelportError
from labelport.home import KEY_NAME
from labelport.keys import write_new_key
from labelport.plural import plural
from labelport.viewer.render import render_all

WIDTH, HEIGHT = 320, 240
#: Where ``make demo`` keeps what it made.
DEFAULT_FOLDER = Path("demo-output")
#: The file that marks a folder as the demo's own (so that a second run may empty it).
MARKER = ".labelport-demo"

KEYPOINTS = ["head", "hip", "left_foot", "right_foot"]
#: 1-based keypoint pairs, as COCO writes them.
SKELETON = [[1, 2], [2, 3], [2, 4]]
CATEGORIES: list[dict[str, Any]] = [
    {"id": 1, "name": "sign", "supercategory": "street"},
    {"id": 2, "name": "roof", "supercategory": "street"},
    {"id": 3, "name": "puddle", "supercategory": "street"},
    {"id": 4, "name": "person", "supercategory": "person", "keypoints": KEYPOINTS, "skeleton": SKELETON},
]


def rle_counts(mask: np.ndarray[Any, np.dtype[np.bool_]]) -> list[int]:
    """COCO's uncompressed RLE counts of a mask: run lengths in column-major order, starting with zeros.

    >>> rle_counts(np.array([[0, 1], [0, 1]], dtype=bool))
    [2, 2]
    """
    flat = mask.flatten(order="F").astype(np.int8)
    edges = np.concatenate(([0], np.flatnonzero(np.diff(flat)) + 1, [flat.size]))
    counts = [int(n) for n in np.diff(edges)]
    return [0, *counts] if flat[0] else counts


def polygon_area(points: list[int]) -> float:
    """The shoelace area of a flat ``[x1, y1, x2, y2, ...]`` ring.

    >>> polygon_area([0, 0, 4, 0, 4, 3])
    6.0
    """
    xs, ys = points[0::2], points[1::2]
    total = sum(xs[i] * ys[i - 1] - xs[i - 1] * ys[i] for i in range(len(xs)))
    return abs(total) / 2


def box(x: int, y: int, w: int, h: int) -> dict[str, Any]:
    return {"bbox": [x, y, w, h], "area": w * h, "iscrowd": 0}


def roof(points: list[int]) -> dict[str, Any]:
    xs, ys = points[0::2], points[1::2]
    bbox = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
    return {"segmentation": [points], "bbox": bbox, "area": polygon_area(points), "iscrowd": 0}


def puddle(mask: np.ndarray[Any, np.dtype[np.bool_]]) -> dict[str, Any]:
    ys, xs = np.nonzero(mask)
    x, y = int(xs.min()), int(ys.min())
    bbox = [x, y, int(xs.max()) - x + 1, int(ys.max()) - y + 1]
    rle = {"size": [HEIGHT, WIDTH], "counts": rle_counts(mask)}
    return {"segmentation": rle, "bbox": bbox, "area": int(mask.sum()), "iscrowd": 1}


def person(points: list[tuple[int, int]]) -> dict[str, Any]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    bbox = [min(xs) - 12, min(ys) - 12, max(xs) - min(xs) + 24, max(ys) - min(ys) + 24]
    keypoints = [v for x, y in points for v in (x, y, 2)]
    return {
        "keypoints": keypoints,
        "num_keypoints": len(points),
        "bbox": bbox,
        "area": bbox[2] * bbox[3],
        "iscrowd": 0,
    }


def write_images_and_coco(folder: Path) -> tuple[list[Path], Path]:
    """Draw three small street scenes and write a COCO file that labels them; returns (images, coco file)."""
    folder.mkdir(parents=True, exist_ok=True)
    sign_1, sign_2 = (40, 30, 70, 50), (200, 20, 60, 80)
    roof_1, roof_3 = [150, 150, 230, 70, 310, 150], [20, 100, 80, 40, 140, 100]
    water = np.zeros((HEIGHT, WIDTH), dtype=bool)
    yy, xx = np.ogrid[:HEIGHT, :WIDTH]
    water[((xx - 100) / 70) ** 2 + ((yy - 180) / 35) ** 2 <= 1] = True
    body = [(220, 70), (220, 140), (190, 210), (250, 210)]

    scenes: list[list[tuple[int, dict[str, Any]]]] = [
        [(1, box(*sign_1)), (2, roof(roof_1))],
        [(1, box(*sign_2)), (3, puddle(water))],
        [(4, person(body)), (2, roof(roof_3))],
    ]
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    paths: list[Path] = []
    for number, scene in enumerate(scenes, 1):
        image = Image.new("RGB", (WIDTH, HEIGHT), (200, 215, 230))
        draw = ImageDraw.Draw(image)
        for category_id, ann in scene:
            if category_id == 1:
                x, y, w, h = ann["bbox"]
                draw.rectangle([x, y, x + w - 1, y + h - 1], fill=(220, 40, 40))
            elif category_id == 2:
                ring = ann["segmentation"][0]
                draw.polygon(list(zip(ring[0::2], ring[1::2], strict=True)), fill=(120, 70, 40))
            elif category_id == 3:
                pixels = np.array(image)
                pixels[water] = (60, 90, 160)
                image = Image.fromarray(pixels)
                draw = ImageDraw.Draw(image)
            else:
                head, hip, left, right = body
                draw.line([head, hip], fill=(0, 0, 0), width=6)
                draw.line([hip, left], fill=(0, 0, 0), width=6)
                draw.line([hip, right], fill=(0, 0, 0), width=6)
                draw.ellipse([head[0] - 12, head[1] - 12, head[0] + 12, head[1] + 12], fill=(0, 0, 0))
            annotations.append(
                {"id": len(annotations) + 1, "image_id": number, "category_id": category_id, **ann}
            )
        name = f"street-{number}.png"
        image.save(folder / name)
        paths.append(folder / name)
        images.append({"id": number, "file_name": name, "width": WIDTH, "height": HEIGHT})

    coco = {
        "info": {"description": "labelport demo", "version": "1.0"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": CATEGORIES,
    }
    coco_path = folder / "street.json"
    coco_path.write_text(json.dumps(coco, indent=1), encoding="utf-8")
    return paths, coco_path


def count_objects(project: Project) -> int:
    """Object instances across the project's label rows on the main branch."""
    return sum(len(row.object_instances) for row in project.list_label_rows_v2())


def indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def prepare(folder: Path) -> None:
    """Empty the demo's folder for a clean run: only one the demo made (it holds :data:`MARKER`) or an
    empty one, never anything else."""
    if folder.exists():
        if not folder.is_dir() or (any(folder.iterdir()) and not (folder / MARKER).is_file()):
            raise LabelportError(
                f"{folder} holds files the demo did not make; give --home a new or empty folder."
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("made by python -m labelport.demo; emptied by its next run\n")


def run(home: Path) -> None:
    """The tour, in ``home``. Raises :class:`LabelportError` when a step fails."""
    prepare(home)
    paths, coco_path = write_images_and_coco(home / "images")
    coco = json.loads(coco_path.read_text(encoding="utf-8"))
    click.echo(
        f"Wrote {plural(len(paths), 'image')} and {coco_path.name} "
        f"({plural(len(coco['annotations']), 'annotation')}, {plural(len(coco['categories']), 'category', 'categories')})."
    )

    key = home / KEY_NAME
    write_new_key(key)
    client = UserClient.create_with_ssh_private_key(ssh_private_key_path=key, home=home)
    assert client.identity is not None
    click.echo(f"Key {key} (new): {client.identity.fingerprint}")
    try:
        project = tour(client, home, paths, coco_path)
        pictures = render_all(project, home / "pictures", media_roots=[home / "images"])
        click.echo(f"Drew {plural(len(pictures), 'labelled picture')} in {home / 'pictures'}/.")
    finally:
        client.close()
    click.echo(where_everything_is(home, project))


def where_everything_is(home: Path, project: Project) -> str:
    """The closing lines: every file the demo made, and a command to look at the store."""
    return "\n".join(
        [
            f"Everything is kept in {home}/ (the next run starts it afresh):",
            f"  images/        the three pictures ({', '.join(p.name for p in sorted((home / 'images').glob('*.png')))})",
            "  images/street.json  the COCO file they came with",
            "  export.json    the export",
            "  pictures/      the images with their labels drawn (labelport render)",
            "  labelport.db   the store;  id_ed25519  the key",
            f"Browse them:  labelport --home {home} view {project.project_hash} --media-root {home / 'images'}",
            f"Look inside:  labelport --home {home} stats {project.project_hash}",
        ]
    )


def tour(client: UserClient, home: Path, paths: list[Path], coco_path: Path) -> Project:
    """Create the project, add the images, import, export, import again."""
    project = client.create_project("labelport demo", from_coco=coco_path)
    shapes = ", ".join(f"{o.title} ({o.shape.value})" for o in project.ontology_structure.objects)
    click.echo(f"Project {project.project_hash}, ontology from the COCO categories: {shapes}.")

    units = project.add_images(paths)
    click.echo(f"Added {plural(len(units), 'image')} as data units.")

    first = project.import_coco(coco_path)
    click.echo("Import:\n" + indent(first.summary()))
    objects = count_objects(project)

    out = project.export_coco(home / "export.json")
    exported = json.loads(out.read_text(encoding="utf-8"))
    click.echo(
        f"Exported {out} ({plural(out.stat().st_size, 'byte')}): {plural(len(exported['images']), 'image')}, "
        f"{plural(len(exported['annotations']), 'annotation')}, {plural(len(exported['categories']), 'category', 'categories')}."
    )

    coco = json.loads(coco_path.read_text(encoding="utf-8"))
    if exported == coco:
        click.echo("The export holds exactly what the input file held.")
    else:
        same = [key for key in coco if exported.get(key) == coco[key]]
        click.echo(f"Identical to the input file: {', '.join(same) or 'nothing'}.")

    second = project.import_coco(coco_path)
    click.echo("Import again, the same file:\n" + indent(second.summary()))
    after = count_objects(project)
    if after != objects or second.counts.created:
        raise LabelportError(f"re-importing changed the object count from {objects} to {after}.")
    click.echo(
        f"No duplicates: {second.counts.created} new, {second.counts.updated} updated; "
        f"{plural(after, 'object')} before and after."
    )
    return project


@click.command()
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_FOLDER,
    show_default=True,
    help="Keep the demo's store, key and files here; a run empties it first (only a folder the demo made).",
)
def main(home: Path) -> None:
    """Run the labelport demo.

    \b
        python -m labelport.demo --home /tmp/labelport-demo
    """
    try:
        click.echo(f"labelport demo in {home}/")
        run(home.expanduser())
    except ImportFailed as exc:
        if exc.report is not None:
            click.echo(exc.report.summary(), err=True)
        click.echo(f"Error: {one_sentence(exc)}", err=True)
        raise SystemExit(1) from None
    except LabelportError as exc:
        click.echo(f"Error: {one_sentence(exc)}", err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
