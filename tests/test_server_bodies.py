"""A request body that is not UTF-8 is a 400 with one sentence on every route that reads it, never
a 500 (``POST /projects`` with invalid UTF-8 once answered 500). A real server process on
the test PostgreSQL; the routes are the server's own table, so a new route is tested too.
"""

from __future__ import annotations

from typing import Any

import pytest

from labelport.server.routers import ROUTERS
from test_server import Team
from test_server_inputs import snapshot
from test_server_trust import call

# the shared team fixture (a database and a server process on it, per module) comes from test_server
NOT_UTF8 = b'{"title": "\xff\xfe\x80", "filename": "\xc3(", "branch": "\xed\xa0\x80"}'


def _routes() -> list[tuple[str, str]]:
    found = [
        (method, route.path)
        for router in ROUTERS
        for route in router.routes
        for method in sorted(getattr(route, "methods", ()))
        if method in ("POST", "PUT", "PATCH", "DELETE")
    ]
    # deleting the project would answer the routes after it with a 404 that tests nothing
    return sorted(found, key=lambda r: r == ("DELETE", "/projects/{project_hash}"))


ROUTES = _routes()


@pytest.fixture(scope="module")
def project(team: Team) -> tuple[Any, str]:
    _, identity, _ = team.user("bodies")
    made = call(identity, "POST", f"{team.server.url}/projects", {"title": "bodies"})
    assert made.status_code == 200, made.text
    return identity, made.json()["hash"]


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_a_body_not_in_utf8_is_one_sentence(
    team: Team, project: tuple[Any, str], method: str, path: str
) -> None:
    identity, project_hash = project
    before = snapshot(team.db)
    url = team.server.url + path.format(project_hash=project_hash, upload_id="u" * 32, seq=0)
    answer = call(identity, method, url, NOT_UTF8)
    # a route that reads no body, or skips the fields it does not know, answers as without one
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        assert answer.json()["message"] and "\n" not in answer.json()["message"]
    if (method, path) != ("DELETE", "/projects/{project_hash}"):  # it deletes, as asked
        assert snapshot(team.db) == before
