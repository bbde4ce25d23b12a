"""A project is named by its hash or its title, everywhere a project is named; titles are unique per owner.

On the embedded store, on PostgreSQL, and through a real server with two signed-in users. A store
written before titles were unique (two projects of one title) still opens: the title is refused as
ambiguous, naming both hashes, and each project is still reached by its hash.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

from conftest import write_key
from labelport import UserClient
from labelport.cli import cli
from labelport.errors import AmbiguousTitle, NotFoundError, TitleTaken
from labelport.keys import Identity
from labelport.labels import now_iso
from labelport.ontology import OntologyStructure
from labelport.server.admin import add_user
from labelport.service import LocalService
from labelport.store.base import ProjectRecord
from labelport.store.postgres import PostgresStore
from labelport.store.sqlite import SqliteStore
from test_server import ServerProcess

if TYPE_CHECKING:
    from bench.pgcluster import PostgresCluster


def _older_project(store: SqliteStore | PostgresStore, title: str, owner_id: int, project_hash: str) -> None:
    """A project written as a store before this rule wrote it: no check of its title."""
    record = ProjectRecord(project_hash, title, "", f"o-{project_hash}", "ada", now_iso())
    store.create_project(record, OntologyStructure(), owner_id)


@pytest.fixture(params=["sqlite", "postgres"])
def service(request: pytest.FixtureRequest, tmp_path: Path, key_path: Path) -> Iterator[LocalService]:
    """A server's service for one user (not the embedded store's single owner) on each database."""
    if request.param == "sqlite":
        store: SqliteStore | PostgresStore = SqliteStore(tmp_path / "s.db")
    else:
        cluster: PostgresCluster = request.getfixturevalue("postgres_server")
        store = PostgresStore(cluster.create_database())
    identity = Identity.load(key_path)
    user = store.upsert_user("ada", identity.fingerprint, identity.public_text)
    yield LocalService(store, user)
    store.close()


def test_a_title_names_the_project_in_the_library_and_every_cli_command(
    client: UserClient, key_path: Path
) -> None:
    made = client.create_project("val100")
    assert client.get_project("val100").project_hash == made.project_hash
    assert client.project_hash(made.project_hash) == made.project_hash
    run = CliRunner()
    shown = run.invoke(cli, ["--key", str(key_path), "project", "show", "val100"])
    assert shown.exit_code == 0 and made.project_hash in shown.stdout, shown.output
    for args in (["data", "list", "val100"], ["stats", "val100"], ["branch", "list", "val100"]):
        assert run.invoke(cli, ["--key", str(key_path), *args]).exit_code == 0, args
    renamed = run.invoke(cli, ["--key", str(key_path), "project", "rename", "val100", "--title", "val"])
    assert renamed.exit_code == 0 and client.get_project("val").project_hash == made.project_hash
    missing = run.invoke(cli, ["--key", str(key_path), "project", "show", "val100"])
    assert missing.exit_code == 1
    assert missing.stderr == "Error: No project with hash or title val100.\n"
    deleted = run.invoke(cli, ["--key", str(key_path), "project", "delete", "val", "--yes"])
    assert deleted.exit_code == 0 and f"Deleted project {made.project_hash}" in deleted.stdout
    assert client.list_projects() == []


def test_a_second_project_of_one_title_is_refused_on_the_embedded_store(
    client: UserClient, key_path: Path
) -> None:
    first = client.create_project("streets")
    other = client.create_project("roads")
    with pytest.raises(TitleTaken) as refused:
        client.create_project("streets")
    assert str(refused.value) == (
        f"You already have a project titled 'streets' ({first.project_hash}); "
        "choose another title or rename that project."
    )
    with pytest.raises(TitleTaken):
        other.update(title="streets")
    assert [p.title for p in client.list_projects()] == ["streets", "roads"]
    assert first.update(title="streets").title == "streets"  # its own title is not taken
    result = CliRunner().invoke(cli, ["--key", str(key_path), "project", "create", "streets"])
    assert result.exit_code == 1 and result.stderr.startswith("Error: You already have a project titled")
    assert result.stderr.count("\n") == 1 and len(client.list_projects()) == 2


def test_titles_are_unique_per_user_on_each_database(service: LocalService, tmp_path: Path) -> None:
    store = service.store
    client = UserClient(service)
    mine = client.create_project("shared")
    with pytest.raises(TitleTaken):
        client.create_project("shared")
    bob_key = Identity.load(write_key(tmp_path / "bob"))
    bob = UserClient(LocalService(store, store.upsert_user("bob", bob_key.fingerprint, bob_key.public_text)))
    theirs = bob.create_project("shared")  # another owner may use the same title
    assert bob.get_project("shared").project_hash == theirs.project_hash
    assert client.get_project("shared").project_hash == mine.project_hash  # each sees their own
    root = UserClient(LocalService(store, store.upsert_user("root", "SHA256:root", "", is_admin=True)))
    with pytest.raises(AmbiguousTitle) as ambiguous:  # a server admin sees both
        root.get_project("shared")
    assert str(ambiguous.value) == (
        f"2 projects are titled 'shared' ({mine.project_hash}, {theirs.project_hash}); name one by its hash."
    )


def test_a_store_holding_two_projects_of_one_title_still_opens(
    client: UserClient, home: Path, key_path: Path
) -> None:
    service = client.service
    assert isinstance(service, LocalService)
    owner = service.user.id
    _older_project(service.store, "dup", owner, "hash-one")  # type: ignore[arg-type]
    _older_project(service.store, "dup", owner, "hash-two")  # type: ignore[arg-type]
    client.close()
    reopened = UserClient.create_with_ssh_private_key(ssh_private_key_path=key_path)
    try:
        with pytest.raises(AmbiguousTitle, match=r"2 projects are titled 'dup' \(hash-one, hash-two\)"):
            reopened.get_project("dup")
        assert reopened.get_project("hash-two").title == "dup"  # each by its hash
        result = CliRunner().invoke(cli, ["--key", str(key_path), "project", "show", "dup"])
        assert result.exit_code == 1
        assert result.stderr == (
            "Error: 2 projects are titled 'dup' (hash-one, hash-two); name one by its hash.\n"
        )
        with pytest.raises(TitleTaken):
            reopened.create_project("dup")  # a third is refused
        reopened.get_project("hash-two").update(title="dup two")
        assert reopened.get_project("dup").project_hash == "hash-one"
    finally:
        reopened.close()


def test_titles_through_a_real_server(
    postgres_server: PostgresCluster, tmp_path: Path, home: Path, key_path: Path
) -> None:
    db = postgres_server.create_database()
    keys = {name: write_key(tmp_path / name) for name in ("ada", "bob")}
    for name, key in keys.items():
        add_user(db, name, Identity.load(key).public_text)
    server = ServerProcess(db, tmp_path / "server.log")
    clients = {
        name: UserClient.create_with_ssh_private_key(ssh_private_key_path=key, domain=server.url)
        for name, key in keys.items()
    }
    try:
        ada = clients["ada"].create_project("val100")
        with pytest.raises(TitleTaken) as refused:
            clients["ada"].create_project("val100")
        assert refused.value.status == 409 and ada.project_hash in str(refused.value)
        bob = clients["bob"].create_project("val100")
        assert clients["ada"].get_project("val100").project_hash == ada.project_hash
        assert clients["bob"].get_project("val100").project_hash == bob.project_hash
        with pytest.raises(NotFoundError):  # bob's project is not ada's to see, by hash or title
            clients["ada"].get_project(bob.project_hash)
        shown = CliRunner().invoke(
            cli, ["--key", str(keys["bob"]), "--server", server.url, "project", "show", "val100"]
        )
        assert shown.exit_code == 0 and bob.project_hash in shown.stdout, shown.output
    finally:
        for c in clients.values():
            c.close()
        server.stop()


def test_two_requests_of_one_user_racing_for_a_title_leave_one_project(
    postgres_server: PostgresCluster, key_path: Path
) -> None:
    import threading

    db = postgres_server.create_database()
    identity = Identity.load(key_path)
    stores = [PostgresStore(db) for _ in range(2)]
    user = stores[0].upsert_user("ada", identity.fingerprint, identity.public_text)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def create(store: PostgresStore) -> None:
        client = UserClient(LocalService(store, user))
        barrier.wait()
        for n in range(20):  # both create the same titles in the same order, at the same time
            try:
                client.create_project(f"race {n}")
                outcomes.append("created")
            except TitleTaken:
                outcomes.append("refused")

    try:
        threads = [threading.Thread(target=create, args=(s,)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        titles = sorted(p.title for p in stores[0].list_projects(None))
        assert titles == sorted(f"race {n}" for n in range(20))
        assert outcomes.count("created") == outcomes.count("refused") == 20
    finally:
        for s in stores:
            s.close()
