"""A two-minute tour: images and COCO labels in, the store, COCO out, and a re-import without duplicates.

Run it with ``make demo`` or::

    python -m labelport.demo              # in a temporary LABELPORT_HOME, removed afterwards
    python -m labelport.demo --home DIR   # keep everything in DIR

The COCO file it writes has boxes, polygons, one crowd region as run-length encoding and one
keypoint skeleton, so every path of the importer runs once.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import click
import numpy as np
from PIL import Image, ImageDraw

from labelport.cli import KEY_NAME, one_sentence, write_new_key
from labelport.client import Project, UserClient
from labelport.errors import ImportFailed, LabelportError
from labelport.service import LocalService

WIDTH, HEIGHT = 64, 48

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
    bbox = [min(xs) - 2, min(ys) - 2, max(xs) - min(xs) + 4, max(ys) - min(ys) + 4]
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
    sign_1, sign_2 = (8, 6, 14, 10), (40, 4, 12, 16)
    roof_1, roof_3 = [30, 30, 46, 14, 62, 30], [4, 20, 16, 8, 28, 20]
    water = np.zeros((HEIGHT, WIDTH), dtype=bool)
    yy, xx = np.ogrid[:HEIGHT, :WIDTH]
    water[((xx - 20) / 14) ** 2 + ((yy - 36) / 7) ** 2 <= 1] = True
    body = [(44, 14), (44, 28), (38, 42), (50, 42)]

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
                draw.line([head, hip], fill=(0, 0, 0), width=2)
                draw.line([hip, left], fill=(0, 0, 0), width=2)
                draw.line([hip, right], fill=(0, 0, 0), width=2)
                draw.ellipse([head[0] - 3, head[1] - 3, head[0] + 3, head[1] + 3], fill=(0, 0, 0))
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


def run(home: Path) -> None:
    """The tour, in ``home``. Raises :class:`LabelportError` when a step fails."""
    paths, coco_path = write_images_and_coco(home / "images")
    coco = json.loads(coco_path.read_text(encoding="utf-8"))
    click.echo(
        f"Wrote {len(paths)} images and {coco_path.name} "
        f"({len(coco['annotations'])} annotations, {len(coco['categories'])} categories)."
    )

    key = home / KEY_NAME
    created = not key.exists()
    if created:
        write_new_key(key)
    client = UserClient.create_with_ssh_private_key(ssh_private_key_path=key, home=home)
    assert client.identity is not None
    click.echo(f"Key {key}{' (new)' if created else ''}: {client.identity.fingerprint}")
    try:
        tour(client, home, paths, coco_path)
    finally:
        if isinstance(client.service, LocalService):
            client.service.store.close()


def tour(client: UserClient, home: Path, paths: list[Path], coco_path: Path) -> None:
    """Create the project, add the images, import, export, import again."""
    project = client.create_project("labelport demo", from_coco=coco_path)
    shapes = ", ".join(f"{o.title} ({o.shape.value})" for o in project.ontology_structure.objects)
    click.echo(f"Project {project.project_hash}, ontology from the COCO categories: {shapes}.")

    units = project.add_images(paths)
    click.echo(f"Added {len(units)} images as data units.")

    first = project.import_coco(coco_path)
    click.echo("Import:\n" + indent(first.summary()))
    objects = count_objects(project)

    out = project.export_coco(home / "export.json")
    exported = json.loads(out.read_text(encoding="utf-8"))
    click.echo(
        f"Exported {out} ({out.stat().st_size:,} bytes): {len(exported['images'])} images, "
        f"{len(exported['annotations'])} annotations, {len(exported['categories'])} categories."
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
        f"{after} objects before and after."
    )
    from labelport.viewer.render import render_all

    pictures = render_all(project, home / "pictures", media_roots=[home / "images"])
    click.echo(
        f"Drew {len(pictures)} labelled pictures in {home / 'pictures'}; browse them with\n"
        f"  labelport --home {home} --key {home / KEY_NAME} view {project.project_hash} --media-root {home / 'images'}"
    )


@click.command()
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the demo's store, key and files here. [default: a temporary folder, removed afterwards]",
)
def main(home: Path | None) -> None:
    """Run the labelport demo.

    \b
        python -m labelport.demo --home /tmp/labelport-demo
    """
    try:
        if home is not None:
            click.echo(f"labelport demo in {home}")
            run(home.expanduser())
        else:
            with tempfile.TemporaryDirectory(prefix="labelport-demo-") as folder:
                click.echo(f"labelport demo in {folder} (temporary; pass --home DIR to keep it)")
                run(Path(folder))
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
