"""Slow and stalled request bodies against the real uvicorn server: a body being received holds no database
connection, a body that stops arriving gets 408, and each user has a bounded number of uploads in flight.

Slow clients are raw sockets that send the headers and the first kilobyte of a body that declares 100 MB,
then nothing more. A hang fails through socket and client timeouts, never through a wall-clock limit.
"""

import http.client
import json
import socket
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from api.db import get_engine
from tests.conftest import count_rows, live_client
from tests.helpers import BOUNDARY, blob_snapshot, multipart_headers, settled
from tests.server_process import serving, wait_for

pytestmark = pytest.mark.slow

MB = 1_000_000
DECLARED = 100 * MB
STALLED = 64
CLIENT_TIMEOUT = 60


def _fields() -> bytes:
    return (
        b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="kind"\r\n\r\nother\r\n'
        b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="title"\r\n\r\nStalled upload\r\n'
        b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n'
    )


def _open(live_server: str, path: str, headers: dict, first: bytes) -> socket.socket:
    """A request whose headers and first bytes are sent, and whose body then stops."""
    parts = urlsplit(live_server)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=CLIENT_TIMEOUT)
    head = "".join(f"{k}: {v}\r\n" for k, v in (headers | {"Content-Length": str(DECLARED)}).items())
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: test\r\n{head}\r\n".encode() + first)
    return sock


def stalled_upload(live_server: str, actor, case_id: str) -> socket.socket:
    return _open(live_server, f"/api/v1/cases/{case_id}/evidence", multipart_headers(actor), _fields() + b"S" * 1024)


def stalled_import(live_server: str, actor, case_id: str) -> socket.socket:
    headers = {"Authorization": f"Bearer {actor.token}", "Content-Type": "text/csv"}
    first = b"occurred_at,title\r\n" + b"2021-03-04,Refund offered for a five-star review\r\n" * 20
    return _open(live_server, f"/api/v1/cases/{case_id}/events:import", headers, first)


def reply(sock: socket.socket) -> tuple[int, http.client.HTTPMessage, dict]:
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, response.headers, json.loads(response.read())


def staged_uploads(blob_root) -> int:
    return len(list((blob_root / "tmp").glob("upload-*")))


def idle_in_transaction(database_url: str) -> int:
    """Connections of this database that sit in an open transaction doing nothing (PostgreSQL)."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND state LIKE 'idle in transaction%'"
                )
            ).scalar_one()
    finally:
        engine.dispose()


def test_sixty_four_stalled_uploads_hold_no_connection_and_every_route_keeps_answering(
    alice, bob, live_server, settings, monkeypatch, blob_root, database_url
):
    monkeypatch.setattr(settings, "max_concurrent_uploads_per_user", STALLED)
    case = alice.make_case()
    theirs = bob.make_case()
    item = bob.upload(theirs["id"], b"an earlier capture of the listing").json()
    before = blob_snapshot(blob_root)
    socks = []
    try:
        socks = [stalled_upload(live_server, alice, case["id"]) for _ in range(STALLED)]
        # Every one of them is past the access check and receiving its body into a staged file.
        wait_for(lambda: staged_uploads(blob_root) == STALLED, seconds=30, what=f"{STALLED} uploads being received")

        pool = get_engine().pool
        wait_for(lambda: pool.checkedout() == 0, seconds=10, what="no pooled connection checked out")
        if database_url.startswith("postgresql"):
            wait_for(lambda: idle_in_transaction(database_url) == 0, seconds=10, what="no idle transaction")

        with httpx.Client(base_url=live_server, timeout=CLIENT_TIMEOUT) as anon:
            assert anon.get("/healthz").status_code == 200
        with live_client(live_server, bob) as other:
            assert other.get("/api/v1/cases").status_code == 200
            assert other.get(f"/api/v1/evidence/{item['id']}").status_code == 200
            content = other.get(f"/api/v1/evidence/{item['id']}/content")
            assert content.status_code == 200 and content.content == b"an earlier capture of the listing"
            small = other.post(
                f"/api/v1/cases/{theirs['id']}/evidence",
                files={"file": ("note.txt", b"a small upload while others stall")},
                data={"kind": "other", "title": "Small"},
            )
            assert small.status_code == 201, small.text
        assert staged_uploads(blob_root) == STALLED  # the stalled ones are still open
    finally:
        for sock in socks:
            sock.close()
    stored = blob_snapshot(blob_root)[0]
    assert settled(blob_root, (stored, before[1] + 1))  # the small upload, and nothing of the stalled ones


def test_a_stalled_upload_gets_408_and_its_staged_file_is_removed(alice, live_server, settings, monkeypatch, blob_root):
    monkeypatch.setattr(settings, "upload_stall_timeout_seconds", 0.5)
    case = alice.make_case()
    before = blob_snapshot(blob_root)
    sock = stalled_upload(live_server, alice, case["id"])
    try:
        status, headers, body = reply(sock)
    finally:
        sock.close()
    assert status == 408, body
    assert "stopped arriving" in body["detail"] and "send the file again" in body["detail"]
    assert headers["Connection"] == "close"
    assert settled(blob_root, before)
    # Its slot is free again: the same user uploads at once.
    assert alice.upload(case["id"], b"sent again, whole").status_code == 201


def test_a_stalled_event_import_gets_408_and_imports_nothing(alice, live_server, settings, monkeypatch):
    monkeypatch.setattr(settings, "upload_stall_timeout_seconds", 0.5)
    case = alice.make_case()
    events = count_rows("timeline_events")
    sock = stalled_import(live_server, alice, case["id"])
    try:
        status, _, body = reply(sock)
    finally:
        sock.close()
    assert status == 408, body
    assert "stopped arriving" in body["detail"]
    assert count_rows("timeline_events") == events


def test_uploads_over_the_per_user_cap_get_429_with_retry_after(
    alice, bob, live_server, settings, monkeypatch, blob_root
):
    monkeypatch.setattr(settings, "max_concurrent_uploads_per_user", 2)
    case = alice.make_case()
    theirs = bob.make_case()
    socks = [stalled_upload(live_server, alice, case["id"]) for _ in range(2)]
    try:
        wait_for(lambda: staged_uploads(blob_root) == 2, seconds=30, what="two uploads being received")
        with live_client(live_server, alice) as same_user:
            third = same_user.post(
                f"/api/v1/cases/{case['id']}/evidence",
                files={"file": ("third.txt", b"a third upload at once")},
                data={"kind": "other", "title": "Third"},
            )
            assert third.status_code == 429, third.text
            assert int(third.headers["Retry-After"]) > 0
            assert "2 uploads" in third.json()["detail"] and "wait" in third.json()["detail"]
            imported = same_user.post(
                f"/api/v1/cases/{case['id']}/events:import",
                content=b"occurred_at,title\r\n2021-03-04,Refund\r\n",
                headers={"Content-Type": "text/csv"},
            )
            assert imported.status_code == 429, imported.text  # an import is an upload too
        assert bob.upload(theirs["id"], b"another user is not held back").status_code == 201
    finally:
        for sock in socks:
            sock.close()
    wait_for(lambda: staged_uploads(blob_root) == 0, seconds=10, what="the stalled uploads to be dropped")
    wait_for(
        lambda: alice.upload(case["id"], b"once the others are gone").status_code == 201,
        seconds=10,
        what="a slot to come free",
    )


@pytest.fixture
def one_connection_server(tmp_path, monkeypatch):
    """A server process whose pool holds one connection, and gives up waiting for it after half a second."""
    for name, value in {
        "DATABASE_POOL_SIZE": "1",
        "DATABASE_MAX_OVERFLOW": "0",
        "DATABASE_POOL_TIMEOUT_SECONDS": "0.5",
        "SQLITE_BUSY_TIMEOUT_MS": "60000",
    }.items():
        monkeypatch.setenv(f"CASEBINDER_{name}", value)
    with serving(tmp_path) as server:
        yield server


@contextmanager
def write_lock(database_url: str):
    """Block every writer of the database (the test's own transaction holds the write lock) until the block ends."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.execute(text("LOCK TABLE cases IN EXCLUSIVE MODE"))  # reads go on; writes wait
            yield
            conn.rollback()
    finally:
        engine.dispose()


def test_a_request_that_gets_no_database_connection_in_time_gets_503(one_connection_server):
    server = one_connection_server
    with server.client() as api, ThreadPoolExecutor(1) as pool:
        case = api.post("/api/v1/cases", json={"title": "Pool test", "case_type": "lanham_act"}).json()
        with write_lock(server.database_url):
            # This edit waits for the lock, holding the server's only connection while it does.
            edit = pool.submit(api.patch, f"/api/v1/cases/{case['id']}", json={"title": "Pool test, renamed"})
            wait_for(lambda: api.get("/healthz").status_code == 503, seconds=30, what="the pool to run dry")
            busy = api.get("/api/v1/cases")
            assert busy.status_code == 503, busy.text
            assert busy.headers["content-type"] == "application/json"
            assert int(busy.headers["Retry-After"]) > 0
            assert "busy" in busy.json()["detail"] and "try again" in busy.json()["detail"]
        assert edit.result().status_code == 200  # the lock is gone: the edit went through
        assert api.get("/healthz").status_code == 200
        assert api.get(f"/api/v1/cases/{case['id']}").json()["title"] == "Pool test, renamed"
