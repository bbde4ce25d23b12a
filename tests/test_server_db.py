"""The database a server or an admin command opens: a path, the ``sqlite:///`` URL a store names itself
by, or PostgreSQL's URL; never a file named after a URL in the working folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelport.errors import StoreError
from labelport.server.admin import open_store


def test_a_store_reopens_by_the_url_it_names_itself_by(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first = open_store(str(tmp_path / "team.db"))
    url = first.url
    first.close()
    again = open_store(url)
    try:
        assert Path(again.path) == tmp_path / "team.db"
    finally:
        again.close()
    assert {p.name for p in tmp_path.iterdir()} <= {"team.db", "team.db-wal", "team.db-shm"}


@pytest.mark.parametrize("db", ["mysql://db/labels", "sqlite://relative.db", "file:///tmp/x.db"])
def test_another_url_is_one_sentence_and_makes_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match="is no database labelport runs on"):
        open_store(db)
    assert list(tmp_path.iterdir()) == []
