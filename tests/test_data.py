"""Data units: sizes read from image headers, errors that name the file, frames of groups and videos."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from labelport import DataError, DataType, DataUnit, Member
from labelport.data import image_from_file, image_size


def make_image(path: Path, size: tuple[int, int], fmt: str) -> Path:
    Image.new("RGB", size, (10, 20, 30)).save(path, format=fmt)
    return path


@pytest.mark.parametrize(
    ("name", "fmt", "size"),
    [("wide.png", "PNG", (64, 48)), ("tall.jpg", "JPEG", (17, 101)), ("odd.jpeg", "JPEG", (1, 1))],
)
def test_image_size_from_header(tmp_path: Path, name: str, fmt: str, size: tuple[int, int]) -> None:
    path = make_image(tmp_path / name, size, fmt)
    assert image_size(path) == size


def test_image_size_does_not_trust_the_extension(tmp_path: Path) -> None:
    path = make_image(tmp_path / "really-a-png.jpg", (31, 7), "PNG")
    assert image_size(path) == (31, 7)


def test_image_from_file_titles_by_name_and_keeps_location(tmp_path: Path) -> None:
    path = make_image(tmp_path / "cat.png", (640, 480), "PNG")
    unit = image_from_file(path)
    assert (unit.title, unit.data_type, unit.width, unit.height, unit.frames) == (
        "cat.png",
        DataType.IMAGE,
        640,
        480,
        1,
    )
    assert unit.location == str(path.resolve())


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"this is text, not pixels\n", "is not an image"),
        (b"", "is not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 7, "is not an image"),  # a PNG signature, then nothing usable
    ],
)
def test_not_an_image_names_the_file(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "broken.png"
    path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        image_size(path)
    assert caught.value.file == str(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert words in str(caught.value)


def test_missing_file_and_directory_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file") as caught:
        image_size(tmp_path / "absent.png")
    assert caught.value.file == str(tmp_path / "absent.png")
    with pytest.raises(DataError, match="is a directory") as caught:
        image_size(tmp_path)
    assert caught.value.file == str(tmp_path)


def test_group_frames_and_member_sizes() -> None:
    members = [Member("a.png", 10, 20), Member("b.png", 30, 5), Member("c.png", 8, 8)]
    group = DataUnit.group("scan", members, DataType.DICOM)
    assert group.frames == 3
    assert (group.width, group.height) == (30, 20)
    assert [group.frame_size(i) for i in range(3)] == [(10, 20), (30, 5), (8, 8)]
    assert group.data_type.has_members
    assert group.to_dict()["members"][1] == {"title": "b.png", "width": 30, "height": 5, "location": ""}


def test_video_frames_and_fps() -> None:
    video = DataUnit.video("clip.mp4", width=1920, height=1080, frames=250, fps=29.97)
    assert video.frames == 250
    assert video.frame_size(100) == (1920, 1080)
    assert not video.data_type.has_members
    assert video.to_dict()["fps"] == 29.97
    assert "fps" not in DataUnit.image("a", width=1, height=1).to_dict()


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (lambda: DataUnit.group("empty", []), "must have at least one member"),
        (lambda: DataUnit.video("v", width=10, height=10, frames=0), "at least one frame"),
        (lambda: DataUnit.image("i", width=0, height=10), "positive size"),
    ],
)
def test_invalid_units_raise_data_error(build: Callable[[], DataUnit], words: str) -> None:
    with pytest.raises(DataError, match=words):
        build()


def test_hashes_are_unique() -> None:
    units = [DataUnit.image(f"{i}.png", width=1, height=1) for i in range(50)]
    assert len({u.data_hash for u in units}) == 50
