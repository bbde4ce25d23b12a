"""A small project with every shape kind, for the viewer's tests: known pixels, known geometry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from labelport import (
    BoundingBox,
    Object,
    ObjectInstance,
    OntologyStructure,
    Point,
    Polygon,
    Polyline,
    Shape,
    UserClient,
)
from labelport.client import Project
from labelport.data import DataType, DataUnit, Member
from labelport.geometry import rle_from_mask
from labelport.labels import Bitmask, RotatableBoundingBox, Skeleton
from labelport.ontology import Attribute, AttributeType, Option

WIDTH, HEIGHT = 240, 160
BACKGROUND = (128, 128, 128)

BOX = BoundingBox(20, 20, 60, 40)
ROTATED = RotatableBoundingBox(120, 20, 50, 30, 30)
POLYGON = Polygon(((20, 90, 60, 90, 60, 130, 20, 130), (70, 100, 95, 100, 95, 125, 70, 125)))
POLYLINE = Polyline((110, 80, 150, 80, 150, 120))
POINT = Point(200, 20)
SKELETON = Skeleton((180, 70, 2, 180, 100, 2, 165, 140, 2, 200, 140, 1))
MASK_BOX = (200, 110, 30, 40)  # x, y, w, h of the mask's filled rectangle


def mask() -> Bitmask:
    pixels = np.zeros((HEIGHT, WIDTH), np.uint8)
    x, y, w, h = MASK_BOX
    pixels[y : y + h, x : x + w] = 1
    rle = rle_from_mask(pixels)
    return Bitmask((HEIGHT, WIDTH), rle["counts"])


def ontology() -> OntologyStructure:
    colour = Attribute(
        "colour", AttributeType.RADIO, options=[Option("red"), Option("blue")], feature_node_hash="attrcolour"
    )
    return OntologyStructure(
        objects=[
            Object("car", Shape.BOUNDING_BOX, feature_node_hash="fcar", attributes=[colour]),
            Object("sign", Shape.ROTATABLE_BOUNDING_BOX, feature_node_hash="fsign"),
            Object("roof", Shape.POLYGON, feature_node_hash="froof"),
            Object("lane", Shape.POLYLINE, feature_node_hash="flane"),
            Object("lamp", Shape.POINT, feature_node_hash="flamp"),
            Object(
                "person",
                Shape.SKELETON,
                feature_node_hash="fperson",
                keypoints=["head", "hip", "left_foot", "right_foot"],
                skeleton=[(1, 2), (2, 3), (2, 4)],
            ),
            Object("puddle", Shape.BITMASK, feature_node_hash="fpuddle"),
        ]
    )


def image(path: Path, colour: tuple[int, int, int] = BACKGROUND) -> Path:
    Image.new("RGB", (WIDTH, HEIGHT), colour).save(path)
    return path


def build(client: UserClient, media: Path, outside: Path) -> Project:
    """Project "streets": every-shape.png (one object of each kind), two plain images with a car each,
    a group of two frames, a unit outside the media roots, one whose file is not an image, and a
    ten-frame video without a file (a lane on every frame, a lamp on frame 5)."""
    media.mkdir(parents=True, exist_ok=True)
    outside.mkdir(parents=True, exist_ok=True)
    project = client.create_project("streets", ontology=ontology(), description="every shape kind")
    (media / "broken.png").write_bytes(b"not a png at all")
    units = [
        DataUnit.image(
            "every-shape.png", width=WIDTH, height=HEIGHT, location=str(image(media / "every-shape.png"))
        ),
        DataUnit.image(
            "plain-1.png",
            width=WIDTH,
            height=HEIGHT,
            location=str(image(media / "plain-1.png", (90, 110, 140))),
        ),
        DataUnit.image(
            "plain-2.png",
            width=WIDTH,
            height=HEIGHT,
            location=str(image(media / "plain-2.png", (140, 120, 90))),
        ),
        DataUnit.group(
            "scan-7",
            [
                Member("s1.png", WIDTH, HEIGHT, str(image(media / "s1.png", (60, 60, 60)))),
                Member("s2.png", WIDTH, HEIGHT, str(image(media / "s2.png", (80, 80, 80)))),
            ],
            DataType.DICOM,
        ),
        DataUnit.image(
            "secret.png", width=WIDTH, height=HEIGHT, location=str(media / ".." / outside.name / "secret.png")
        ),
        DataUnit.image("broken.png", width=WIDTH, height=HEIGHT, location=str(media / "broken.png")),
        DataUnit.video("clip.mp4", width=WIDTH, height=HEIGHT, frames=10),  # no location: a neutral canvas
    ]
    image(outside / "secret.png", (255, 0, 0))
    project.add_data_units(units)
    o = project.ontology_structure
    rows = {r.data_title: r for r in project.list_label_rows_v2()}
    kinds = [
        ("car", BOX),
        ("sign", ROTATED),
        ("roof", POLYGON),
        ("lane", POLYLINE),
        ("lamp", POINT),
        ("person", SKELETON),
        ("puddle", mask()),
    ]
    every = rows["every-shape.png"]
    for title, coordinates in kinds:
        instance = ObjectInstance(o.get_child_by_title(title), object_hash=f"o-{title}")
        instance.set_for_frames(coordinates, 0, created_by="ada")
        if title == "car":
            instance.set_answer("red")
        every.add_object_instance(instance)
    every.save()
    for title in ("plain-1.png", "plain-2.png", "secret.png", "broken.png"):
        row = rows[title]
        car = ObjectInstance(o.get_child_by_title("car"))
        car.set_for_frames(BoundingBox(40, 40, 100, 60), 0)
        car.set_answer("blue")
        row.add_object_instance(car)
        row.save()
    scan = rows["scan-7"]
    for frame in (0, 1):
        roof = ObjectInstance(o.get_child_by_title("roof"))
        roof.set_for_frames(
            Polygon(((30 + 40 * frame, 30, 100 + 40 * frame, 30, 65 + 40 * frame, 100),)), frame
        )
        scan.add_object_instance(roof)
    scan.save()
    clip = rows["clip.mp4"]
    lane = ObjectInstance(o.get_child_by_title("lane"), object_hash="o-clip-lane")
    for frame in range(10):
        lane.set_for_frames(Polyline((10 + 10 * frame, 150, 60 + 10 * frame, 110)), frame)
    lamp = ObjectInstance(o.get_child_by_title("lamp"), object_hash="o-clip-lamp")
    lamp.set_for_frames(Point(120, 40), 5)
    clip.add_object_instance(lane)
    clip.add_object_instance(lamp)
    clip.save()
    # a prediction branch: one car on every-shape.png, confident, and one on plain-1.png, not
    for title, confidence in (("every-shape.png", 0.9), ("plain-1.png", 0.3)):
        row = project.list_label_rows_v2(data_title_eq=title, branch_name="model")[0]
        car = ObjectInstance(o.get_child_by_title("car"), object_hash=f"pred-{title}")
        car.set_for_frames(BoundingBox(24, 24, 60, 40), 0, confidence=confidence, manual_annotation=False)
        row.add_object_instance(car)
        row.save()
    return project
