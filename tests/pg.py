"""A real PostgreSQL for the tests: one throw-away cluster per session, one fresh database per test,
dropped when the test ends.

The cluster lives in a temporary directory, listens on 127.0.0.1 on a free port (and on a Unix socket
in its own directory), trusts local connections, and is stopped and deleted when the session ends.
``initdb`` refuses to run as root, so under root the cluster runs as an unprivileged user: the one
named by ``LABELPORT_TEST_PG_USER``, else ``labelport-test`` or ``nobody`` when they exist, else a
``labelport-test`` system user created with ``useradd``.

The cluster itself is :class:`bench.pgcluster.PostgresCluster`, which the benchmark uses too.
``tests/conftest.py`` registers this module as a plugin, so every test module may ask for
``pg_url`` or ``postgres_server`` by name. Tests using them skip only when the PostgreSQL binaries are not installed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bench.pgcluster import FAST, PostgresCluster, find_bindir


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster for the whole session; skips when PostgreSQL is not installed."""
    bindir = find_bindir()
    if bindir is None:
        pytest.skip(
            "PostgreSQL binaries (initdb, pg_ctl) are not installed; install PostgreSQL 15 "
            "(Debian: apt-get install postgresql) to run the PostgreSQL and server tests"
        )
    server = PostgresCluster(bindir, settings=FAST, user_env="LABELPORT_TEST_PG_USER", create_user=True)
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    yield server
    server.stop(mode="immediate")  # the data is thrown away: no shutdown checkpoint


@pytest.fixture
def pg_url(postgres_server: PostgresCluster) -> Iterator[str]:
    """The URL of a fresh, empty database for one test, dropped when the test ends."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)
