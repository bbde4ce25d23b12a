"""A local import of a folder follows the user's paths, and its report names every file it read
outside the dataset's folder; a confined reader (a server's) reads none of them."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from labelport import UserClient
from labelport.errors import FormatError
from labelport.formats.reach import OUTSIDE, Reach
from labelport.formats.voc.read import read_voc
from labelport.formats.yolo.read import read_yolo


def _png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48)).save(path)
    return path


def _other(tmp_path: Path) -> Path:
    """A dataset outside the one imported: an image and its label file."""
    other = tmp_path / "other"
    _png(other / "images" / "train" / "s.png")
    (other / "labels" / "train").mkdir(parents=True)
    (other / "labels" / "train" / "s.txt").write_text("0 0.5 0.5 0.25 0.25\n")
    return other


def _dataset(tmp_path: Path, yaml: str) -> Path:
    ds = tmp_path / "ds"
    _png(ds / "images" / "train" / "a.png")
    (ds / "labels" / "train").mkdir(parents=True, exist_ok=True)
    (ds / "labels" / "train" / "a.txt").write_text("0 0.5 0.5 0.25 0.25\n")
    (ds / "data.yaml").write_text(yaml)
    return ds


def test_a_local_import_lists_the_files_it_read_outside_the_dataset(
    client: UserClient, tmp_path: Path
) -> None:
    other = _other(tmp_path)
    ds = _dataset(tmp_path, f"names: [cat]\ntrain: [images/train, {other}/images/train]\n")
    project = client.create_project("p")
    report = project.import_labels(ds, format="yolo", categories="create", create_missing_data_units=True)
    assert report.counts.imported == 2
    assert report.outside_files == [str(other / "images/train/s.png"), str(other / "labels/train/s.txt")]
    assert "read 2 files outside the dataset's folder, where its paths led: " in report.summary()
    assert report.to_dict()["outside_files"] == report.outside_files


def test_a_split_list_outside_the_folder_is_listed_with_what_it_names(tmp_path: Path) -> None:
    other = _other(tmp_path)
    (other / "train.txt").write_text(f"{other}/images/train/s.png\n")
    ds = _dataset(tmp_path, f"names: [cat]\ntrain: {other}/train.txt\n")
    assert read_yolo(ds).outside == [
        str(other / "images/train/s.png"),
        str(other / "labels/train/s.txt"),
        str(other / "train.txt"),
    ]


def test_a_local_import_inside_its_folder_lists_nothing(client: UserClient, tmp_path: Path) -> None:
    ds = _dataset(tmp_path, "names: [cat]\ntrain: images/train\n")
    report = client.create_project("p").import_labels(
        ds, format="yolo", categories="create", create_missing_data_units=True
    )
    assert report.outside_files == [] and "outside the dataset" not in report.summary()


@pytest.mark.parametrize("confined", [False, True])
def test_a_link_out_of_the_folder_is_listed_locally_and_refused_confined(
    tmp_path: Path, confined: bool
) -> None:
    other = _other(tmp_path)
    ds = _dataset(tmp_path, "names: [cat]\ntrain: images/train\n")
    (ds / "images" / "train" / "b.png").symlink_to(other / "images" / "train" / "s.png")
    (ds / "labels" / "train" / "b.txt").symlink_to(other / "labels" / "train" / "s.txt")
    if confined:
        with pytest.raises(FormatError) as caught:
            read_yolo(ds, confined=True)
        assert caught.value.code == OUTSIDE and caught.value.file == str(ds / "images/train/b.png")
    else:
        data = read_yolo(ds)
        assert len(data.annotations) == 2
        assert data.outside == [str(other / "images/train/s.png"), str(other / "labels/train/s.txt")]


def test_a_voc_image_read_outside_the_folder_is_listed(tmp_path: Path) -> None:
    outside = _png(tmp_path / "elsewhere" / "x.png")
    voc = tmp_path / "voc"
    (voc / "Annotations").mkdir(parents=True)
    xml = (
        f"<annotation><filename>{outside}</filename><object><name>cat</name><bndbox><xmin>1</xmin>"
        "<ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></object></annotation>"
    )
    (voc / "Annotations" / "a.xml").write_text(xml)
    assert read_voc(voc).outside == [str(outside)]
    with pytest.raises(FormatError) as caught:
        read_voc(voc, confined=True)
    assert (caught.value.code, caught.value.path) == (OUTSIDE, "/annotation/filename")


@pytest.mark.parametrize(
    ("given", "inside"),
    [("images", True), ("./a/../images", True), ("../x", False), ("a/../../x", False), ("/etc", False)],
)
def test_a_confined_reach_takes_only_paths_inside(tmp_path: Path, given: str, inside: bool) -> None:
    (tmp_path / "images").mkdir()
    reach = Reach(tmp_path, confined=True)
    if inside:
        assert reach.named(tmp_path / given, given, file="data.yaml", key="train") == tmp_path / given
    else:
        with pytest.raises(FormatError) as caught:
            reach.named(tmp_path / given, given, file="data.yaml", key="train")
        assert (caught.value.code, caught.value.file, caught.value.path) == (OUTSIDE, "data.yaml", "train")


@pytest.mark.parametrize("confined", [False, True])
@pytest.mark.parametrize(
    ("yaml", "extra", "place"),
    [
        ('train: "a\\0b"\n', {}, ("data.yaml", None, "train")),
        ('path: "x\\0"\n', {}, ("data.yaml", None, "path")),
        ("train: t.txt\n", {"t.txt": "images/\x00x.png\n"}, ("t.txt", 1, None)),
    ],
)
def test_a_path_with_a_nul_character_is_one_sentence(
    tmp_path: Path,
    confined: bool,
    yaml: str,
    extra: dict[str, str],
    place: tuple[str, int | None, str | None],
) -> None:
    ds = _dataset(tmp_path, "names: [cat]\n" + yaml)
    for name, text in extra.items():
        (ds / name).write_text(text)
    with pytest.raises(FormatError) as caught:
        read_yolo(ds, confined=confined)
    error = caught.value
    assert (error.code, Path(error.file or "").name, error.line, error.path) == ("path_invalid", *place)


def test_a_confined_reach_refuses_a_link_out_and_an_absolute_path_inside(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(tmp_path / "out")
    reach = Reach(root, confined=True)
    for path, given in ((root / "link", "link"), (root, str(root))):
        with pytest.raises(FormatError):
            reach.named(path, given, file="data.yaml", key="path")
    assert not reach.may_read(root / "link")
    assert Reach(root, confined=False).named(root / "link", "link", file="data.yaml") == root / "link"


@pytest.mark.parametrize("confined", [False, True])
def test_a_linked_folder_inside_that_leads_out_is_outside(tmp_path: Path, confined: bool) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "secret.txt").write_text("not the dataset's")
    root = tmp_path / "root"
    root.mkdir()
    (root / "sub").symlink_to(tmp_path / "out", target_is_directory=True)
    reach = Reach(root, confined=confined)
    assert reach.may_read(root / "sub" / "secret.txt") is not confined
    assert reach.outside == (set() if confined else {str(tmp_path / "out" / "secret.txt")})
