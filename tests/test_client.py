"""The Python API on a real embedded store: projects, data, label rows read, changed, saved and read again."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

import labelport.client
from conftest import write_key
from labelport import (
    BoundingBox,
    DataError,
    DataType,
    EncordUserClient,
    FrameIndex,
    KeyFileError,
    LabelError,
    NotFoundError,
    Object,
    ObjectInstance,
    OntologyStructure,
    Polygon,
    Project,
    Shape,
    UserClient,
)
from labelport.store.sqlite import SqliteStore


def images(folder: Path, *sizes: tuple[int, int]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, size in enumerate(sizes):
        path = folder / f"img{i}.png"
        Image.new("RGB", size).save(path)
        paths.append(path)
    return paths


def ontology() -> OntologyStructure:
    return OntologyStructure(objects=[Object("car", Shape.BOUNDING_BOX), Object("road", Shape.POLYGON)])


def test_the_brief_alias_and_frame_index() -> None:
    assert EncordUserClient is UserClient
    assert FrameIndex("d") == FrameIndex("d", frame=0)


def test_create_get_and_list_projects(client: UserClient, home: Path) -> None:
    assert client.list_projects() == []
    first = client.create_project("first", description="one", ontology=ontology())
    second = client.create_project("second", ontology_hash=first.ontology_hash)
    empty = client.create_project("third")
    assert [p.project_hash for p in client.list_projects()] == [
        first.project_hash,
        second.project_hash,
        empty.project_hash,
    ]
    again = client.get_project(first.project_hash)
    assert (again.title, again.record.description) == ("first", "one")
    assert [o.title for o in again.ontology_structure.objects] == ["car", "road"]
    assert second.ontology_structure.to_dict() == first.ontology_structure.to_dict()
    assert empty.ontology_structure.objects == []
    assert (home / "labelport.db").is_file()


def test_unknown_project_hash(client: UserClient) -> None:
    with pytest.raises(NotFoundError, match="No project with hash or title nope") as caught:
        client.get_project("nope")
    assert (caught.value.kind, caught.value.ident) == ("project", "nope")


def test_unknown_ontology_hash_creates_nothing(client: UserClient) -> None:
    with pytest.raises(NotFoundError, match="No ontology with hash nope"):
        client.create_project("p", ontology_hash="nope")
    assert client.list_projects() == []


def test_create_and_get_ontology(client: UserClient) -> None:
    ontology_hash = client.create_ontology("animals", {"objects": [{"name": "cat", "shape": "point"}]})
    assert client.get_ontology(ontology_hash).objects[0].shape is Shape.POINT
    project = client.create_project("p", ontology_hash=ontology_hash)
    assert project.ontology_hash == ontology_hash


def test_add_images_reads_sizes(client: UserClient, tmp_path: Path) -> None:
    project = client.create_project("p", ontology=ontology())
    added = project.add_images(images(tmp_path / "imgs", (64, 48), (10, 20)))
    assert [(u.title, u.width, u.height, u.data_type) for u in added] == [
        ("img0.png", 64, 48, DataType.IMAGE),
        ("img1.png", 10, 20, DataType.IMAGE),
    ]
    assert [u.data_hash for u in project.list_data_units()] == [u.data_hash for u in added]


@pytest.mark.parametrize("form", [str, Path])
def test_add_images_takes_one_path_as_well_as_a_list(client: UserClient, tmp_path: Path, form: type) -> None:
    project = client.create_project("p", ontology=ontology())
    (one,) = images(tmp_path / "imgs", (64, 48))
    added = project.add_images(form(one))  # not walked as a sequence of characters
    assert [(u.title, u.width, u.height) for u in added] == [("img0.png", 64, 48)]


def test_one_bad_image_adds_nothing(client: UserClient, tmp_path: Path) -> None:
    project = client.create_project("p", ontology=ontology())
    good = images(tmp_path / "imgs", (5, 5))
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    with pytest.raises(DataError, match=r"notes\.png: is not an image"):
        project.add_images([*good, bad])
    assert project.list_data_units() == []


def test_add_data_images_and_videos(client: UserClient) -> None:
    project = client.create_project("p", ontology=ontology())
    added = project.add_data([("a.jpg", 640, 480), ("clip.mp4", "1920", "1080", 30)])
    assert [(u.data_type, u.frames) for u in added] == [(DataType.IMAGE, 1), (DataType.VIDEO, 30)]
    with pytest.raises(DataError, match="expected"):
        project.add_data([("only-a-title",)])
    with pytest.raises(DataError, match="same title"):
        project.add_data([("x", 1, 1), ("x", 2, 2)])
    assert len(project.list_data_units()) == 2


def test_add_image_group(client: UserClient, tmp_path: Path) -> None:
    project = client.create_project("p", ontology=ontology())
    unit = project.add_image_group("scan", images(tmp_path / "g", (8, 8), (16, 4)), data_type="img_sequence")
    [stored] = project.list_data_units()
    assert stored.data_hash == unit.data_hash
    assert (stored.data_type, stored.frames, stored.width, stored.height) == (DataType.IMG_SEQUENCE, 2, 16, 8)
    assert [(m.title, m.width, m.height) for m in stored.members] == [("img0.png", 8, 8), ("img1.png", 16, 4)]
    [row] = project.list_label_rows_v2()
    assert row.number_of_frames == 2


def test_list_label_rows_filters(client: UserClient) -> None:
    project = client.create_project("p", ontology=ontology())
    a, _, c = project.add_data([("a.png", 10, 10), ("b.png", 10, 10), ("abc.png", 10, 10)])
    rows = project.list_label_rows_v2()
    assert [r.data_title for r in rows] == ["a.png", "b.png", "abc.png"]
    assert [r.data_hash for r in project.list_label_rows_v2(data_hashes=[c.data_hash, a.data_hash])] == [
        a.data_hash,
        c.data_hash,
    ]
    assert [r.data_title for r in project.list_label_rows_v2(data_title_eq="b.png")] == ["b.png"]
    assert project.list_label_rows_v2(data_title_eq="B.PNG") == []
    assert [r.data_title for r in project.list_label_rows_v2(data_title_like="%ab%")] == ["abc.png"]
    assert project.list_label_rows_v2(data_hashes=[a.data_hash], data_title_eq="b.png") == []
    assert all(r.branch_name == "main" and r.object_instances == [] for r in rows)


def test_change_a_label_row_save_and_reload(client: UserClient, key_path: Path, home: Path) -> None:
    project = client.create_project("p", ontology=ontology())
    unit, other = project.add_data([("a.png", 100, 50), ("b.png", 100, 50)])
    [row] = project.list_label_rows_v2(data_hashes=[unit.data_hash])
    car = project.ontology_structure.get_child_by_title("car")
    road = project.ontology_structure.get_child_by_title("road")
    for box in (BoundingBox(1, 2, 3, 4), BoundingBox(10.5, 20.25, 30, 40)):
        instance = ObjectInstance(car)
        instance.set_for_frames(box, frames=0)
        row.add_object_instance(instance)
    lane = ObjectInstance(road)
    lane.set_for_frames(Polygon(((0, 0, 99, 0, 99, 49),)), frames=0, confidence=0.75)
    row.add_object_instance(lane)
    row.save()
    saved = row.to_dict()

    # a new client on the same store (a new process, as far as the store can tell)
    reopened = UserClient.create_with_ssh_private_key(ssh_private_key_path=key_path)
    [loaded] = reopened.get_project(project.project_hash).list_label_rows_v2(data_title_eq="a.png")
    assert loaded.to_dict() == saved
    assert [o.ontology_item.title for o in loaded.object_instances] == ["car", "car", "road"]
    assert loaded.object_instances[1].get_annotation(0).coordinates == BoundingBox(10.5, 20.25, 30, 40)
    assert loaded.object_instances[2].get_annotation(0).coordinates.normalised(100, 50)[0][2] == {
        "x": 0.99,
        "y": 0.98,
    }

    # change it: remove one box, move another, save again
    loaded.remove_object(loaded.object_instances[0])
    loaded.object_instances[0].set_for_frames(BoundingBox(0, 0, 5, 5), frames=0)
    loaded.save()
    [final] = project.list_label_rows_v2(data_title_eq="a.png")
    assert [o.get_annotation(0).coordinates for o in final.object_instances][:1] == [BoundingBox(0, 0, 5, 5)]
    assert len(final.object_instances) == 2
    assert project.list_label_rows_v2(data_hashes=[other.data_hash])[0].object_instances == []
    store = SqliteStore(home / "labelport.db")
    try:
        assert store.list_branches(project.project_hash) == ["main"]
    finally:
        store.close()


def _labelled_project(client: UserClient, rows: int) -> tuple[Project, list[int]]:
    """A project of ``rows`` images, the i-th with i % 4 boxes; returns it and the counts."""
    project = client.create_project("p", ontology=ontology())
    project.add_data([(f"{i}.png", 100, 50) for i in range(rows)])
    car = project.ontology_structure.get_child_by_title("car")
    counts = [i % 4 for i in range(rows)]
    for row, count in zip(project.list_label_rows_v2(), counts, strict=True):
        for n in range(count):
            instance = ObjectInstance(car)
            instance.set_for_frames(BoundingBox(n, 0, 3, 4), frames=0)
            row.add_object_instance(instance)
        row.save()
    return project, counts


def test_label_rows_are_light_until_their_labels_are_read(client: UserClient) -> None:
    project, counts = _labelled_project(client, 6)
    rows = project.list_label_rows_v2()
    assert [r.object_count for r in rows] == counts
    assert not any(r.is_labelling_initialised for r in rows)
    assert all(r.label_hash and r.number_of_frames == 1 and r.data_type == "image" for r in rows)
    rows[2].initialise_labels()  # the brief's call; reads that row (and the next ones of the listing)
    assert rows[2].is_labelling_initialised
    assert [o.get_annotation(0).coordinates.x for o in rows[2].object_instances] == [0, 1]
    # first use reads too: existing code that never calls initialise_labels keeps working
    fresh = project.list_label_rows_v2()
    assert [len(r.object_instances) for r in fresh] == counts
    assert all(r.is_labelling_initialised for r in fresh)
    # an added object counts once the row is read
    fresh[0].add_object_instance(rows[2].object_instances[0])
    assert fresh[0].object_count == 1


def test_initialise_labels_reads_many_rows_at_once(client: UserClient) -> None:
    project, counts = _labelled_project(client, 5)
    rows = project.list_label_rows_v2()
    expected = [r.to_dict() for r in project.list_label_rows_v2()]  # read one by one on first use
    project.initialise_labels(rows[1:4])
    assert [r.is_labelling_initialised for r in rows] == [False, True, True, True, False]
    project.initialise_labels(rows)
    assert [r.to_dict() for r in rows] == expected
    assert [len(r.object_instances) for r in rows] == counts


def test_first_use_reads_ahead_a_bounded_part_of_the_listing(
    client: UserClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(labelport.client, "READ_AHEAD", 3)
    project, counts = _labelled_project(client, 7)
    rows = project.list_label_rows_v2()
    assert len(rows[1].object_instances) == counts[1]
    assert [r.is_labelling_initialised for r in rows] == [False, True, True, True, False, False, False]


def test_saving_an_object_from_another_ontology_is_refused(client: UserClient) -> None:
    project = client.create_project("p", ontology=ontology())
    project.add_data([("a.png", 10, 10)])
    [row] = project.list_label_rows_v2()
    stranger = ObjectInstance(Object("car", Shape.BOUNDING_BOX))  # same title, other feature hash
    stranger.set_for_frames(BoundingBox(0, 0, 1, 1))
    row.add_object_instance(stranger)
    with pytest.raises(LabelError, match="not in this project's ontology"):
        row.save()
    assert project.list_label_rows_v2()[0].object_instances == []


def test_branches_are_separate(client: UserClient) -> None:
    project = client.create_project("p", ontology=ontology())
    project.add_data([("a.png", 10, 10)])
    [row] = project.list_label_rows_v2(branch_name="model-v1")
    assert row.branch_name == "model-v1"
    instance = ObjectInstance(project.ontology_structure.objects[0])
    instance.set_for_frames(BoundingBox(0, 0, 1, 1))
    row.add_object_instance(instance)
    row.save()
    assert project.list_branches() == ["main", "model-v1"]
    assert len(project.list_label_rows_v2(branch_name="model-v1")[0].object_instances) == 1
    assert project.list_label_rows_v2()[0].object_instances == []


def test_client_with_a_bad_key_opens_no_store(tmp_path: Path, home: Path) -> None:
    bad = tmp_path / "garbage"
    bad.write_text("nope")
    with pytest.raises(KeyFileError):
        UserClient.create_with_ssh_private_key(ssh_private_key_path=bad)
    assert not home.exists()


def test_each_key_kind_can_be_a_client(tmp_path: Path, home: Path) -> None:
    fingerprints = set()
    for kind in ("ed25519", "rsa", "ecdsa"):
        key = write_key(tmp_path / kind, kind, "pem")
        user_client = UserClient.create_with_ssh_private_key(ssh_private_key_path=str(key))
        assert user_client.identity is not None
        fingerprints.add(user_client.identity.fingerprint)
        user_client.create_project(kind)
    assert len(fingerprints) == 3
    assert (
        len(UserClient.create_with_ssh_private_key(ssh_private_key_path=tmp_path / "rsa").list_projects())
        == 3
    )


def test_label_rows_and_export_refuse_keywords_they_do_not_take(client: UserClient) -> None:
    """A typo (or a filter labelport does not have) is named, never ignored."""
    project = client.create_project("p")
    with pytest.raises(TypeError, match="data_title_equals"):
        project.list_label_rows_v2(data_title_equals="a.png")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="include_classification_feature_hashes"):
        project.export_coco_labels(include_classification_feature_hashes=[])  # type: ignore[call-arg]
