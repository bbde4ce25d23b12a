"""The viewer's store calls on both stores: pages, filters, counts per class, sessions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import viewer_fixture as fx
from labelport import UserClient
from labelport.client import Project
from labelport.errors import LabelportError
from labelport.service import LocalService
from labelport.store.base import LabelStore, UnitQuery
from labelport.store.postgres import PostgresStore
from labelport.store.sqlite import SqliteStore


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LabelStore]:
    opened: LabelStore = (
        PostgresStore(str(request.getfixturevalue("pg_url")))
        if request.param == "postgres"
        else SqliteStore(tmp_path / "store.db")
    )
    yield opened
    opened.close()


@pytest.fixture
def project(store: LabelStore, tmp_path: Path) -> Project:
    service = LocalService.embedded(store, name="ada", fingerprint="SHA256:ada")
    return fx.build(UserClient(service), tmp_path / "media", tmp_path / "outside")


def titles(project: Project, query: UnitQuery, **page: int) -> list[str]:
    return [u.title for u in project.find_data_units(query, **page).units]


def test_pages_keep_the_order_units_were_added_and_count_them_all(project: Project) -> None:
    every = [u.title for u in project.list_data_units()]
    first = project.find_data_units(limit=4)
    second = project.find_data_units(limit=4, offset=4)
    assert first.total == second.total == 7
    assert [u.title for u in first.units + second.units] == every
    assert project.find_data_units(limit=4, offset=40).units == []
    assert titles(project, UnitQuery(data_type="video")) == ["clip.mp4"]
    with pytest.raises(LabelportError, match="a page holds 1 to 500"):
        project.find_data_units(limit=0)


def test_every_filter_narrows_the_units(project: Project) -> None:
    others = ["plain-1.png", "plain-2.png", "secret.png", "broken.png"]
    assert titles(project, UnitQuery(classes=("fcar",))) == ["every-shape.png", *others]
    assert titles(project, UnitQuery(classes=("froof", "fpuddle"))) == ["every-shape.png", "scan-7"]
    assert titles(project, UnitQuery(title="PLAIN")) == ["plain-1.png", "plain-2.png"]
    assert titles(project, UnitQuery(title="%")) == []  # LIKE's wildcards are only text here
    assert titles(project, UnitQuery(data_type="dicom")) == ["scan-7"]
    assert titles(project, UnitQuery(branch="model", classes=("fcar",))) == ["every-shape.png", "plain-1.png"]
    assert titles(project, UnitQuery(branch="model", min_confidence=0.5)) == ["every-shape.png"]
    blue = project.ontology_structure.get_child_by_title("car").attributes[0].option("blue")
    assert titles(project, UnitQuery(attribute=("attrcolour", blue.feature_node_hash))) == others
    assert titles(project, UnitQuery(attribute=("attrcolour", "no such option"))) == []


def test_counts_per_class_follow_every_filter_but_the_class_filter(project: Project) -> None:
    everything = project.class_counts()
    assert everything == {
        "fcar": 5,
        "fsign": 1,
        "froof": 3,
        "flane": 11,
        "flamp": 2,
        "fperson": 1,
        "fpuddle": 1,
    }
    assert project.class_counts(UnitQuery(classes=("fsign",))) == everything
    assert project.class_counts(UnitQuery(title="scan")) == {"froof": 2}
    assert project.class_counts(UnitQuery(branch="model", min_confidence=0.5)) == {"fcar": 1}


def test_units_by_hash_stay_in_their_project(project: Project, store: LabelStore) -> None:
    units = project.list_data_units()
    wanted = [units[3].data_hash, "not-a-hash", units[0].data_hash]
    assert [u.title for u in project.get_data_units(wanted)] == ["scan-7", "every-shape.png"]
    service = LocalService.embedded(store, name="ada", fingerprint="SHA256:ada")
    other = UserClient(service).create_project("other")
    assert other.get_data_units([units[0].data_hash]) == []


def test_sessions_expire_and_are_revoked(store: LabelStore) -> None:
    user = store.upsert_user("ada", "SHA256:ada", "")
    store.create_session("a" * 64, user.id, 100.0, 200.0)
    store.create_session("b" * 64, user.id, 100.0, 300.0)
    assert store.session_user("a" * 64, 150.0) == user
    assert store.session_user("a" * 64, 200.0) is None  # expired
    store.create_session("c" * 64, user.id, 250.0, 400.0)  # signing in deletes expired sessions
    assert store.session_user("a" * 64, 150.0) is None
    assert store.session_user("b" * 64, 250.0) == user
    assert store.revoke_sessions(user_id=user.id) == 2
    assert store.session_user("b" * 64, 250.0) is None and store.session_user("c" * 64, 260.0) is None
