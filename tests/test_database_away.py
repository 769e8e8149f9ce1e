"""A database that stops answering (connections refused, dropped) gets a 503 that says to try again, not a 500;
and once it answers again, so does the server, with nothing to restart."""

import os

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.server_process import Instance, fresh_database

ON_POSTGRES = os.environ.get("CASEBINDER_TEST_DATABASE_URL", "").startswith("postgresql")
pytestmark = [
    pytest.mark.slow,  # starts a server
    pytest.mark.skipif(not ON_POSTGRES, reason="refusing connections is PostgreSQL's: runs on the PostgreSQL leg"),
]


def _connections(url: str, allowed: bool) -> None:
    """Let the database take connections or not; when not, end the ones it has (the server's pool)."""
    name = make_url(url).database
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {"true" if allowed else "false"}'))
            if not allowed:
                conn.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                    {"name": name},
                )
    finally:
        admin.dispose()


def test_a_database_that_refuses_connections_is_a_503_and_the_server_carries_on_after(tmp_path):
    url, drop = fresh_database(tmp_path)
    instance = Instance(url, tmp_path / "blobs", settings={"CASEBINDER_JOB_QUEUE": "inprocess"})
    instance.add_user()
    try:
        instance.start()
        with instance.client() as http:
            assert http.get("/api/v1/cases").status_code == 200
            _connections(url, allowed=False)
            try:
                r = http.get("/api/v1/cases")
                assert r.status_code == 503, r.text
                assert r.json()["code"] == "database_unavailable"
                assert "try again" in r.json()["detail"] and r.headers["Retry-After"]
            finally:
                _connections(url, allowed=True)
            assert http.get("/api/v1/cases").status_code == 200
    finally:
        instance.stop()
        drop()
