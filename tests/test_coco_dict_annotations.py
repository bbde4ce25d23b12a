"""A COCO dict's annotations are written to JSON by a forked child while the import plans
(formats/coco/dict_annotations.py): the import must store exactly what it stores from the dict's
JSON, fall back to reading the dict whole when the child cannot write it, and leave no child behind."""

from __future__ import annotations

import os
from typing import Any

import pytest

from coco_builders import DATA, coco_template, make_project, to_bytes
from labelport import OntologyStructure, UserClient
from labelport.errors import LabelportError
from labelport.formats.coco import dict_annotations


@pytest.fixture
def children(monkeypatch: pytest.MonkeyPatch) -> list[dict_annotations.AnnotationsChild | None]:
    """Every dict is written by a child, however small; the children started are recorded."""
    monkeypatch.setattr(dict_annotations, "CHILD_FROM", 1)
    started: list[dict_annotations.AnnotationsChild | None] = []
    start = dict_annotations.AnnotationsChild.start

    def recorded(source: Any) -> dict_annotations.AnnotationsChild | None:
        started.append(start(source))
        return started[-1]

    monkeypatch.setattr(dict_annotations.AnnotationsChild, "start", staticmethod(recorded))
    return started


def no_children_left() -> bool:
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def exported(client: UserClient, title: str, source: Any) -> tuple[Any, dict[str, Any]]:
    project = make_project(client, title, ontology=OntologyStructure(), data=DATA)
    report = project.import_coco(source, categories="create")
    return report, project.export_coco_labels()


def test_a_dict_written_apart_imports_as_its_json(
    client: UserClient, children: list[dict_annotations.AnnotationsChild | None]
) -> None:
    coco = coco_template()
    report, labels = exported(client, "apart", coco)
    assert children and children[0] is not None and children[0].filled  # the child wrote them
    expected_report, expected = exported(client, "whole", to_bytes(coco))
    assert report.ok and report.counts.imported == expected_report.counts.imported == 5
    assert labels["annotations"] == expected["annotations"] == coco["annotations"]
    assert report.conversions == expected_report.conversions
    assert no_children_left()


def test_what_orjson_refuses_is_read_whole_here(
    client: UserClient, children: list[dict_annotations.AnnotationsChild | None]
) -> None:
    """An integer key orjson will not write: the child fails, and the dict is read whole (by msgspec,
    which writes the key as a string) with the same outcome as before."""
    coco = coco_template()
    coco["annotations"][0]["attributes"] = {1: "one"}
    report, labels = exported(client, "apart", coco)
    assert children and children[0] is not None
    expected_report, expected = exported(client, "whole", to_bytes(coco))
    assert report.counts.imported == expected_report.counts.imported
    assert [str(w) for w in report.warnings] == [str(w) for w in expected_report.warnings]
    assert labels["annotations"] == expected["annotations"]
    assert no_children_left()


def test_an_import_that_fails_before_it_needs_the_annotations_stops_the_child(
    client: UserClient, children: list[dict_annotations.AnnotationsChild | None]
) -> None:
    project = make_project(client, "fails", ontology=OntologyStructure(), data=DATA)
    with pytest.raises(LabelportError, match=r"map\.json"):
        project.import_coco(coco_template(), categories="create", match="/no/such/map.json")
    assert children and children[0] is not None
    assert no_children_left()
    assert project.export_coco_labels()["annotations"] == []
