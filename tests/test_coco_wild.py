"""Issue 20, valid COCO data from the wild that was refused, changed or merged without a count.

Each case starts from the one valid template of :mod:`coco_builders` and changes one thing; each
asserts the exact code, the JSON path and (through the CLI) the exit status.
"""

from __future__ import annotations

import copy
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from coco_builders import coco_template, make_project, object_count, with_value, write_json
from evaluation_helpers import assert_same, coco_eval
from labelport import CocoError, ImportFailed, OntologyError, OntologyStructure, UserClient
from labelport.errors import FieldError
from labelport.formats.coco.ontology import ontology_from_coco
from labelport.ontology import Attribute, AttributeType, Object, Shape
from labelport.service import LocalService
from labelport.store.base import LabelStore
from labelport.viewer.draw import mark_of
from test_coco_fast_path import comparable, import_both_ways
from test_coco_trust import cli_env, cli_run
from test_coco_trust_properties import _service_with_template, store_and_dump
from test_server import Team
from test_yolo import DETECT, make_yolo

__all__ = ["cli_env", "store_and_dump"]  # fixtures, shared

#: COCO's 17-point person skeleton, as person_keypoints files write it (1-based)
COCO_SKELETON = [
    [16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8],
    [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7],
]  # fmt: skip
KEYPOINTS = Path("keypoints/person_keypoints_gt.json")


def _warnings(report: Any) -> list[tuple[str, str]]:
    return [(p.code, p.path) for p in report.warnings]


# -- a skeleton copied from COCO's 17 points onto fewer keypoints ----------------------------------------


def copied_skeleton() -> dict[str, Any]:
    """The template's 3-keypoint person with COCO's 17-point skeleton."""
    return with_value(coco_template(), "categories[3].skeleton", copy.deepcopy(COCO_SKELETON))


@pytest.mark.parametrize("categories", ["by-name", "create"])
def test_a_copied_skeleton_is_kept_and_warned_once(client: UserClient, categories: str) -> None:
    ontology = OntologyStructure() if categories == "create" else None
    project = make_project(client, ontology=ontology)
    report = project.import_coco(copied_skeleton(), categories=categories)
    assert report.ok and report.counts.imported == 5, report.summary()
    assert _warnings(report) == [("skeleton_out_of_range", "categories[3].skeleton[0]")]
    assert "has 16 edges naming" in report.warnings[0].message
    exported = project.export_coco_labels()
    assert [c["skeleton"] for c in exported["categories"] if c["name"] == "person"] == [COCO_SKELETON]


def test_edges_beyond_the_keypoints_are_not_drawn(client: UserClient) -> None:
    project = make_project(client, ontology=OntologyStructure())
    project.import_coco(copied_skeleton(), categories="create")
    person = next(o for o in project.ontology_structure.objects if o.title == "person")
    assert person.skeleton == [tuple(e) for e in COCO_SKELETON]  # kept as given
    instance = next(
        o
        for row in project.list_label_rows_v2()
        for o in row.get_object_instances()
        if o.feature_hash == person.feature_node_hash
    )
    mark = mark_of(person, instance.object_hash, instance.get_annotation(0).coordinates)
    # of the 19 edges only [2, 3], [1, 2] and [1, 3] join two of the 3 keypoints
    assert mark.to_json()["edges"] == [[1, 2], [0, 1], [0, 2]]


def test_a_copied_skeleton_makes_an_ontology(tmp_path: Path) -> None:
    ontology = ontology_from_coco(copied_skeleton())
    person = next(o for o in ontology.objects if o.title == "person")
    assert person.skeleton == [tuple(e) for e in COCO_SKELETON] and len(person.keypoints) == 3
    assert OntologyStructure.from_dict(ontology.to_dict()).to_dict() == ontology.to_dict()


def test_the_cli_imports_a_copied_skeleton_exit_0(cli_env: Path, tmp_path: Path) -> None:
    path = write_json(tmp_path / "pose.json", copied_skeleton())
    created = cli_run("project", "create", "pose", "--from-coco", path, "--json")
    assert created.exit_code == 0, created.output
    project_hash = json.loads(created.stdout)["project_hash"]
    result = cli_run("import", "coco", project_hash, path, "--create-missing-data-units")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "warning: categories[3].skeleton[0]: the skeleton has 16 edges" in result.output, result.output


def _fourteen_points(doc: dict[str, Any]) -> dict[str, Any]:
    """A real person_keypoints file cut to 14 keypoints, its 17-point skeleton kept."""
    doc = copy.deepcopy(doc)
    for category in doc["categories"]:
        category["keypoints"] = category["keypoints"][:14]
    for ann in doc["annotations"]:
        ann["keypoints"] = ann["keypoints"][: 14 * 3]
        ann["num_keypoints"] = sum(1 for v in ann["keypoints"][2::3] if v)
    return doc


def test_evaluation_of_a_copied_skeleton_equals_pycocotools(
    client: UserClient, shared_fixtures: Path
) -> None:
    gt = _fourteen_points(json.loads((shared_fixtures / KEYPOINTS).read_text()))
    rng = random.Random(5)
    results = [
        {
            "image_id": a["image_id"],
            "category_id": a["category_id"],
            "keypoints": [
                v + (rng.uniform(-2, 2) if k % 3 != 2 else 0) for k, v in enumerate(a["keypoints"])
            ],
            "score": round(rng.random(), 3),
        }
        for a in gt["annotations"]
    ]
    project = client.create_project("pose", from_coco=gt)
    report = project.import_coco(gt, create_missing_data_units=True)
    assert ("skeleton_out_of_range", "categories[0].skeleton[0]") in _warnings(report)
    project.import_coco(results, branch_name="pred")
    sigmas = [
        0.026,
        0.025,
        0.025,
        0.035,
        0.035,
        0.079,
        0.079,
        0.072,
        0.072,
        0.062,
        0.062,
        0.107,
        0.107,
        0.087,
    ]
    ours = project.evaluate("pred", iou_type="keypoints", keypoint_sigmas=sigmas)
    assert_same(ours, coco_eval(gt, results, "keypoints", sigmas=sigmas))
    assert object_count(project) == len(gt["annotations"])


# -- ids: numbers, whole floats and numeric strings are one id, on both validation paths ---------------


def _with(*changes: tuple[str, Any]) -> dict[str, Any]:
    doc = coco_template()
    for where, value in changes:
        doc = with_value(doc, where, value)
    return doc


#: valid files: (changes to the template, the warnings expected)
VALID_IDS: dict[str, tuple[tuple[tuple[str, Any], ...], list[tuple[str, str]]]] = {
    "category_id_string": (
        (("categories[0].id", "1"), ("annotations[0].category_id", "1"), ("annotations[4].category_id", "1")),
        [],
    ),
    "category_id_string_referred_to_as_number": (
        (("categories[0].id", "1"),),
        [("id_mixed_types", "annotations[0]")],
    ),
    "category_id_not_a_number": (
        (
            ("categories[0].id", "box-1"),
            ("annotations[0].category_id", "box-1"),
            ("annotations[4].category_id", "box-1"),
        ),
        [],
    ),
    "category_id_whole_float": ((("categories[1].id", 2.0),), []),
    "annotation_id_whole_float": ((("annotations[0].id", 100.0),), []),
    "annotation_id_numeric_string": ((("annotations[2].id", "300"),), []),
    "image_id_whole_float": ((("images[0].id", 1.0), ("annotations[1].image_id", 1.0)), []),
    "image_id_float_referred_to_as_string": (
        (("images[1].id", 2.0), ("annotations[2].image_id", "2")),
        [("id_mixed_types", "annotations[2]")],
    ),
}


@pytest.mark.parametrize("name", list(VALID_IDS))
def test_ids_equal_as_numbers_are_one_id_on_both_paths(
    client: UserClient, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    changes, warnings = VALID_IDS[name]
    coco = _with(*changes)
    (fast, fast_report), (exact, exact_report), _taken = import_both_ways(client, coco, monkeypatch)
    assert comparable(fast_report) == comparable(exact_report)
    assert exact_report.ok and exact_report.counts.imported == 5, exact_report.summary()
    assert _warnings(exact_report) == warnings
    for project in (fast, exact):
        exported = project.export_coco_labels()
        # exported in the form each id came in
        assert exported["annotations"] == coco["annotations"]
        assert sorted(map(repr, (c["id"] for c in exported["categories"]))) == sorted(
            repr(c["id"]) for c in coco["categories"]
        )
        given = {i["file_name"]: repr(i["id"]) for i in coco["images"]}
        assert {i["file_name"]: repr(i["id"]) for i in exported["images"] if i["file_name"] in given} == given


def test_string_category_ids_take_the_fast_path(client: UserClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file whose category ids are all strings is as clean as one of numbers."""
    coco = coco_template()
    for category in coco["categories"]:
        category["id"] = f"c{category['id']}"
    for ann in coco["annotations"]:
        ann["category_id"] = f"c{ann['category_id']}"
    (fast, fast_report), (_exact, exact_report), taken = import_both_ways(client, coco, monkeypatch)
    assert taken == [True]
    assert comparable(fast_report) == comparable(exact_report) and fast_report.ok
    assert fast.export_coco_labels()["annotations"] == coco["annotations"]


#: refused: (changes, code, JSON path)
REFUSED_IDS = {
    "annotation_id_fraction": ((("annotations[0].id", 1.5),), "id_type", "annotations[0].id"),
    "annotation_id_padded_string": ((("annotations[0].id", "07"),), "id_type", "annotations[0].id"),
    "annotation_id_as_string_twice": ((("annotations[1].id", "1"),), "id_duplicate", "annotations[1].id"),
    "annotation_id_as_float_twice": ((("annotations[1].id", 1.0),), "id_duplicate", "annotations[1].id"),
    "image_id_as_float_twice": ((("images[1].id", 1.0),), "image_duplicate", "images[1].id"),
    "category_id_as_string_twice": ((("categories[1].id", "1"),), "category_duplicate", "categories[1].id"),
    "category_id_as_float_twice": ((("categories[1].id", 1.0),), "category_duplicate", "categories[1].id"),
    "category_id_fraction": ((("categories[0].id", 1.5),), "category_id", "categories[0].id"),
    "category_id_beyond_64_bits": ((("categories[0].id", 2**64),), "category_id", "categories[0].id"),
}


@pytest.mark.parametrize("name", list(REFUSED_IDS))
def test_an_id_that_is_no_id_is_refused_on_both_paths(
    client: UserClient, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    changes, code, path = REFUSED_IDS[name]
    coco = _with(*changes)
    (_fast, fast_report), (_exact, exact_report), _taken = import_both_ways(client, coco, monkeypatch)
    assert comparable(fast_report) == comparable(exact_report)
    assert (code, path) == (exact_report.errors[0].code, exact_report.errors[0].path)


@pytest.mark.parametrize("name", ["annotation_id_as_string_twice", "category_id_fraction"])
def test_the_cli_exits_1_for_an_id_that_is_no_id(cli_env: Path, tmp_path: Path, name: str) -> None:
    changes, _code, path = REFUSED_IDS[name]
    source = write_json(tmp_path / "ids.json", _with(*changes))
    created = cli_run("project", "create", "ids", "--json")
    project_hash = json.loads(created.stdout)["project_hash"]
    result = cli_run(
        "import", "coco", project_hash, source, "--create-missing-data-units", "--categories", "create"
    )
    assert result.exit_code == 1, result.output
    assert f"error: {path}" in result.stderr, result.stderr


# -- names: garbage refused alike on both stores, names that differ kept apart, the same name counted ----

#: (category name, message fragment): refused as category_name at categories[0].name
BAD_NAMES = {
    "spaces": ("   ", "must not be blank"),
    "tab_and_newline": ("\t\n", "must not be blank"),
    "nul": ("b\x00x", "NUL"),
    "nul_alone": ("\x00", "NUL"),
}


@pytest.mark.parametrize("name", list(BAD_NAMES))
def test_a_garbage_category_name_is_refused_on_both_stores(
    store_and_dump: tuple[LabelStore, Callable[[], Any]], name: str
) -> None:
    store, dump = store_and_dump
    service, project_hash = _service_with_template(store, OntologyStructure())
    before = dump()
    value, fragment = BAD_NAMES[name]
    with pytest.raises(ImportFailed) as failed:
        service.import_coco(
            project_hash, with_value(coco_template(), "categories[0].name", value), {"categories": "create"}
        )
    first = failed.value.report.errors[0]
    assert (first.code, first.path) == ("category_name", "categories[0].name") and fragment in first.message
    assert dump() == before
    with pytest.raises(CocoError) as refused:
        ontology_from_coco(with_value(coco_template(), "categories[0].name", value))
    assert refused.value.path == "categories[0].name"


def test_a_file_name_holding_a_nul_is_named_on_both_stores(
    store_and_dump: tuple[LabelStore, Callable[[], Any]],
) -> None:
    """It would become a new data unit's title, which neither store takes: named where it is."""
    store, dump = store_and_dump
    service, project_hash = _service_with_template(store)
    before = dump()
    doc = with_value(coco_template(), "images[1].file_name", "b\x00.jpg")
    with pytest.raises(ImportFailed) as failed:
        service.import_coco(project_hash, doc, {"create_missing_data_units": True})
    first = failed.value.report.errors[0]
    assert (first.code, first.path) == ("image_file_name", "images[1].file_name") and "NUL" in first.message
    assert dump() == before


def test_the_cli_exits_1_for_a_blank_category_name(cli_env: Path, tmp_path: Path) -> None:
    source = write_json(tmp_path / "blank.json", with_value(coco_template(), "categories[1].name", "  "))
    project_hash = json.loads(cli_run("project", "create", "blank", "--json").stdout)["project_hash"]
    result = cli_run(
        "import", "coco", project_hash, source, "--create-missing-data-units", "--categories", "create"
    )
    assert result.exit_code == 1, result.output
    assert "error: categories[1].name: a category name must not be blank" in result.stderr, result.stderr


def _nul_ontology() -> OntologyStructure:
    return OntologyStructure(objects=[Object(title="c\x00t", shape=Shape.POLYGON)])


def _nul_attribute() -> OntologyStructure:
    attribute = Attribute(name="n\x00te", type=AttributeType.TEXT)
    return OntologyStructure(objects=[Object(title="cat", shape=Shape.POLYGON, attributes=[attribute])])


#: each a text that reaches both stores, holding a NUL: (what to call, the field refused)
NUL_TEXTS: dict[str, tuple[Callable[[LocalService, str], Any], str]] = {
    "ontology_object_name": (
        lambda s, p: s.create_ontology("o", _nul_ontology()),
        "objects[0]: 'name'",
    ),
    "ontology_attribute_name": (
        lambda s, p: s.create_ontology("o", _nul_attribute()),
        "objects[0].attributes[0]: 'name'",
    ),
    "project_ontology": (
        lambda s, p: s.create_project("p2", structure=_nul_ontology()),
        "objects[0]: 'name'",
    ),
    "project_title_update": (lambda s, p: s.update_project(p, title="t\x00"), "title: "),
    "project_description_update": (lambda s, p: s.update_project(p, description="d\x00"), "description: "),
    "branch_copied_to": (lambda s, p: s.copy_branch(p, "main", "b\x00"), "target: "),
    "branch_imported_to": (
        lambda s, p: s.import_coco(p, coco_template(), {"branch_name": "b\x00"}),
        "branch_name",
    ),
}


@pytest.mark.parametrize("name", list(NUL_TEXTS))
def test_both_stores_refuse_a_nul_in_any_text_alike(
    store_and_dump: tuple[LabelStore, Callable[[], Any]], name: str
) -> None:
    store, dump = store_and_dump
    service, project_hash = _service_with_template(store)
    service.import_coco(project_hash, coco_template(), {})
    before = dump()
    call, field = NUL_TEXTS[name]
    with pytest.raises((FieldError, OntologyError)) as refused:
        call(service, project_hash)
    assert field in str(refused.value) and "NUL" in str(refused.value)
    assert dump() == before


def test_a_blank_name_in_an_ontology_file_is_refused() -> None:
    with pytest.raises(OntologyError) as refused:
        OntologyStructure.from_dict({"objects": [{"name": "  ", "shape": "polygon"}]})
    assert refused.value.path == "objects[0]" and "blank" in str(refused.value)


def _butterflies(second: str) -> dict[str, Any]:
    doc = with_value(coco_template(), "categories[0].name", "Butterfly")
    return with_value(doc, "categories[1]", {"id": 2, "name": second, "supercategory": "thing"})


def test_categories_differing_only_in_case_stay_two_objects(client: UserClient) -> None:
    project = make_project(client, ontology=OntologyStructure())
    report = project.import_coco(_butterflies("butterfly"), categories="create")
    assert report.ok and report.warnings == [] and report.counts.categories_created == 4, report.summary()
    titles = sorted(o.title for o in project.ontology_structure.objects)
    assert titles == ["Butterfly", "butterfly", "mask", "person"]
    exported = project.export_coco_labels()
    names = {c["id"]: c["name"] for c in exported["categories"]}
    assert {a["id"]: names[a["category_id"]] for a in exported["annotations"]}[2] == "butterfly"
    assert {a["id"]: names[a["category_id"]] for a in exported["annotations"]}[1] == "Butterfly"


def test_a_category_does_not_take_the_object_another_category_of_the_file_names(client: UserClient) -> None:
    """The ontology has "butterfly"; the file has both spellings: "Butterfly" must not land on it."""
    ontology = OntologyStructure(objects=[Object(title="butterfly", shape=Shape.POLYGON)])
    project = make_project(client, ontology=ontology)
    report = project.import_coco(_butterflies("butterfly"), on_error="skip")
    matched = {m.name: m.method for m in report.categories}
    assert matched["Butterfly"] == "unmatched" and matched["butterfly"] == "exact"
    assert ("category_unmatched", "annotations[0].category_id") in [(p.code, p.path) for p in report.errors]


def test_two_categories_of_one_name_are_counted_and_warned(client: UserClient) -> None:
    doc = with_value(coco_template(), "categories[1]", {"id": 9, "name": "box", "supercategory": "thing"})
    doc = with_value(doc, "annotations[1].category_id", 9)
    project = make_project(client, ontology=OntologyStructure())
    report = project.import_coco(doc, categories="create")
    assert report.ok and report.counts.imported == 5
    assert _warnings(report) == [("category_same_name", "categories[1].name")]
    assert "categories 1 (categories[0]) and 9 are both named 'box'" in report.warnings[0].message
    assert sorted(o.title for o in project.ontology_structure.objects) == ["box", "mask", "person"]
    # a project made from the file has one object for the name, and its import says so too
    made = client.create_project("made", from_coco=doc)
    assert sorted(o.title for o in made.ontology_structure.objects) == ["box", "mask", "person"]
    made_report = made.import_coco(doc, create_missing_data_units=True)
    assert made_report.ok and _warnings(made_report) == [("category_same_name", "categories[1].name")]


def test_the_stores_refuse_an_ontology_holding_a_nul_themselves(
    store_and_dump: tuple[LabelStore, Callable[[], Any]],
) -> None:
    """Below the service (which reads an ontology back before storing it), each store checks too."""
    store, dump = store_and_dump
    before = dump()
    with pytest.raises(FieldError) as refused:
        store.create_ontology("o1", "o", _nul_attribute())
    assert refused.value.field == "ontology: the attribute 'n\\x00te'"
    with pytest.raises(FieldError) as refused:
        store.create_ontology("o1", "o", _nul_ontology())
    assert refused.value.field == "ontology.objects[0].name"
    assert dump() == before


# -- the same annotations again, under another name --------------------------------------------------

VAL = Path("coco-val2014-100/instances_val2014_100.json")


def _copies(source: Path, folder: Path) -> dict[str, Path]:
    """The same file renamed, gzipped, and re-encoded with another layout and annotation order."""
    doc = json.loads(source.read_text())
    shuffled = copy.deepcopy(doc)
    random.Random(1).shuffle(shuffled["annotations"])
    folder.mkdir(exist_ok=True)
    (folder / "renamed.json").write_bytes(source.read_bytes())
    (folder / "same.json.gz").write_bytes(gzip.compress(source.read_bytes()))
    (folder / "indented.json").write_text(json.dumps(shuffled, indent=1))
    return {p.stem: p for p in folder.iterdir()}


@pytest.mark.parametrize("copy_name", ["renamed", "same.json", "indented"])
def test_the_same_annotations_under_another_name_are_refused_on_both_stores(
    store_and_dump: tuple[LabelStore, Callable[[], Any]],
    shared_fixtures: Path,
    tmp_path: Path,
    copy_name: str,
) -> None:
    store, dump = store_and_dump
    source = shared_fixtures / VAL
    service = LocalService.embedded(store, name="ada", fingerprint="SHA256:ada")
    project_hash = service.create_project("val", structure=ontology_from_coco(source))
    first = service.import_coco(project_hash, source, {"create_missing_data_units": True})
    assert first.counts.created == 839
    before = dump()
    again = _copies(source, tmp_path)[copy_name]
    for dry_run in (True, False):
        with pytest.raises(ImportFailed) as refused:
            service.import_coco(project_hash, again, {"dry_run": dry_run})
        problems = [(p.code, p.path) for p in refused.value.report.errors]
        assert problems == [("already_imported", "annotations")]
        message = refused.value.report.errors[0].message
        assert f"imported from {source.name} on " in message and "--replace" in message, message
        assert f"--source-name {source.name}" in message
        assert dump() == before
    # either way out: update in place under the first name, or replace
    updated = service.import_coco(project_hash, again, {"source_name": source.name})
    assert (updated.counts.created, updated.counts.updated) == (0, 839)
    replaced = service.import_coco(project_hash, again, {"replace": True})
    assert replaced.counts.created == 839
    assert sum(1 for _ in store.iter_objects(project_hash, "main")) == 839


def test_other_annotations_under_another_name_import(client: UserClient) -> None:
    """A file with other annotation ids, or the same ids on other images, is other annotations."""
    project = make_project(client)
    project.import_coco(coco_template(), source_name="a.json")
    renumbered = coco_template()
    for ann in renumbered["annotations"]:
        ann["id"] += 100
    assert project.import_coco(renumbered, source_name="b.json").counts.created == 5
    moved = with_value(coco_template(), "annotations[0].image_id", 2)
    report = project.import_coco(moved, source_name="c.json")
    assert report.ok and report.counts.created == 5
    assert object_count(project) == 15


def test_the_same_annotations_on_another_branch_import(client: UserClient) -> None:
    project = make_project(client)
    project.import_coco(coco_template(), source_name="a.json")
    assert project.import_coco(coco_template(), source_name="b.json", branch_name="b").counts.created == 5


def test_the_cli_refuses_the_same_file_from_standard_input_exit_1(
    cli_env: Path, tmp_path: Path, shared_fixtures: Path
) -> None:
    source = shared_fixtures / VAL
    created = cli_run("project", "create", "val", "--from-coco", source, "--json")
    project_hash = json.loads(created.stdout)["project_hash"]
    assert cli_run("import", "coco", project_hash, source, "--create-missing").exit_code == 0
    environ = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    piped = subprocess.run(
        [str(Path(sys.executable).parent / "labelport"), "import", "coco", project_hash, "-"],
        input=source.read_bytes(),
        capture_output=True,
        env=environ,
        check=False,
    )
    assert piped.returncode == 1, piped.stderr
    last = piped.stderr.decode().rstrip("\n").rsplit("\n", 1)[-1]
    assert "Traceback" not in piped.stderr.decode()
    assert last.startswith(
        f"Error: Nothing was imported from stdin: annotations: these annotations were imported from {source.name} on "
    )
    assert last.endswith(
        f"use --replace to replace them, or --source-name {source.name} to update them in place."
    )
    again = cli_run("import", "coco", project_hash, source, "--source-name", source.name)
    assert again.exit_code == 0 and "0 new, 839 updated" in again.output, again.output


def test_the_server_refuses_the_same_annotations_under_another_name(team: Team, tmp_path: Path) -> None:
    remote = team.client("ada")
    try:
        project = make_project(remote)
        first = write_json(tmp_path / "first.json", coco_template())
        assert project.import_coco(first).counts.created == 5
        (tmp_path / "copy").mkdir()
        again = write_json(tmp_path / "copy" / "second.json.gz", coco_template())
        again.write_bytes(gzip.compress(again.read_bytes()))
        with pytest.raises(ImportFailed) as refused:
            project.import_coco(again)
        assert [(p.code, p.path) for p in refused.value.report.errors] == [
            ("already_imported", "annotations")
        ]
        assert "imported from first.json on " in str(refused.value)
        assert project.import_coco(again, source_name="first.json").counts.updated == 5
        assert object_count(project) == 5
    finally:
        remote.service.close()  # type: ignore[attr-defined]


def test_a_renamed_yolo_dataset_is_refused_too(client: UserClient, tmp_path: Path) -> None:
    """Every format's import is the COCO import: a dataset folder copied under another name is the
    same annotations (its reader's ids are deterministic)."""
    root = make_yolo(tmp_path / "ds", DETECT)
    project = client.create_project("y")
    options: dict[str, Any] = {"categories": "create", "create_missing_data_units": True}
    assert project.import_labels(root, format="yolo", **options).counts.created == 5
    copied = shutil.copytree(root, tmp_path / "ds-copy")
    with pytest.raises(ImportFailed) as refused:
        project.import_labels(copied, format="yolo", **options)
    assert [(p.code, p.path) for p in refused.value.report.errors] == [("already_imported", "annotations")]
    assert "imported from ds on " in str(refused.value)
    assert project.import_labels(copied, format="yolo", source_name="ds", **options).counts.updated == 5


def test_another_dataset_of_the_same_shape_is_not_taken_for_a_repeat(
    client: UserClient, tmp_path: Path
) -> None:
    """Two datasets a reader numbers alike (ids 1, 2, 3 in both) whose images are other pictures land
    on other data units: they are other annotations, and both import."""
    first = make_yolo(tmp_path / "ds", DETECT)
    second = shutil.copytree(first, tmp_path / "other")
    for folder in ("images", "labels"):
        for path in sorted((second / folder).rglob("*.*")):
            path.rename(path.with_name(f"other-{path.name}"))
    project = client.create_project("y")
    options: dict[str, Any] = {"categories": "create", "create_missing_data_units": True}
    assert project.import_labels(first, format="yolo", **options).counts.created == 5
    assert project.import_labels(second, format="yolo", **options).counts.created == 5


def test_the_same_annotations_import_again_once_the_earlier_ones_are_deleted(
    store_and_dump: tuple[LabelStore, Callable[[], Any]],
) -> None:
    store, _dump = store_and_dump
    service, project_hash = _service_with_template(store)
    options = {"source_name": "a.json", "branch_name": "b"}
    service.import_coco(project_hash, coco_template(), options)
    with pytest.raises(ImportFailed):
        service.import_coco(project_hash, coco_template(), {"branch_name": "b"})
    service.delete_branch(project_hash, "b")
    assert service.import_coco(project_hash, coco_template(), {"branch_name": "b"}).counts.created == 5
