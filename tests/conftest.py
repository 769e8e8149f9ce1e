"""Test setup: a real database (SQLite file, or PostgreSQL with CASEBINDER_TEST_DATABASE_URL) built by
Alembic, a real blob store on disk, the app over HTTP (in-process and as a live uvicorn server)."""

import os
import socket
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from api import migrate
from api.config import get_settings
from api.db import get_engine, session_scope
from api.deps import _local_store
from api.services import users as user_service
from models.user import UserCreate

# The browser tests' fixtures and hooks; ocr_on; the S3 server (s3_server) and the blob stores of both backends;
# production mode (the job queue and its workers, the `embedded` marker).
pytest_plugins = ["tests.browser", "tests.text_support", "tests.s3_server", "tests.production"]

PASSWORD = "correct horse battery staple"
# Thousands of test accounts: hashed with argon2's cheapest parameters, not the hundred milliseconds each that
# protect a real one (tests/test_auth.py checks what a real server uses). Server processes inherit it.
os.environ.setdefault("CASEBINDER_PASSWORD_HASH_PROFILE", "cheapest")
# The suite uploads hundreds of pictures; reading each by OCR in the background would only slow it. The tests of
# text extraction switch OCR on for themselves (tests/text_support.py `ocr_on`).
os.environ.setdefault("CASEBINDER_TEXT_OCR", "false")
# The tests' own OCR read-backs on one thread, as the product runs Tesseract (api/text/ocr.py): on a busy machine its
# OpenMP threads spin, and took three times the CPU for the same page.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")


def _fresh_postgres(url: str) -> tuple[str, callable]:
    """Create a throwaway database next to the one named in `url`; return its URL and a dropper."""
    base = make_url(url)
    name = f"casebinder_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        get_engine().dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    wanted = os.environ.get("CASEBINDER_TEST_DATABASE_URL")
    root = tmp_path_factory.mktemp("casebinder")
    if wanted and wanted.startswith("postgresql"):
        url, drop = _fresh_postgres(wanted)
    else:
        url, drop = f"sqlite:///{root / 'test.db'}", (lambda: get_engine().dispose())
    os.environ["CASEBINDER_DATABASE_URL"] = url
    os.environ["CASEBINDER_DATA_DIR"] = str(root / "blobs")
    for cache in (get_settings, get_engine, _local_store):
        cache.cache_clear()
    migrate.upgrade(url)
    yield url
    drop()


@pytest.fixture(scope="session")
def settings(database_url):
    return get_settings()


@pytest.fixture(scope="session")
def app(database_url):
    from api.app import app as application

    return application


@pytest.fixture(scope="session")
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def live_server(app):
    """The app served by uvicorn on a free loopback port, for real concurrent HTTP."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("live server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def blob_root(settings) -> Path:
    """The local store's root: the tests that look at its files on disk are skipped when the blobs are in S3."""
    from tests.s3_server import ON_S3

    if ON_S3:
        pytest.skip("looks at the local blob store's files on disk")
    return Path(settings.data_dir).resolve()


class Actor:
    """A user with a token, and helpers that go through the HTTP API as that user."""

    def __init__(self, client, email: str, token: str):
        self.client, self.email, self.token = client, email, token
        self.headers = {"Authorization": f"Bearer {token}"}

    def request(self, method: str, path: str, headers: dict | None = None, **kw):
        return self.client.request(method, path, headers=self.headers | (headers or {}), **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def make_case(self, **fields) -> dict:
        body = {"title": "Acme Audio v. Mpow Direct", "case_type": "lanham_act"} | fields
        r = self.post("/api/v1/cases", json=body)
        assert r.status_code == 201, r.text
        return r.json()

    def upload(self, case_id: str, content: bytes, filename: str = "evidence.bin", **fields):
        data = {"kind": "other", "title": f"Evidence {filename}"} | fields
        return self.post(f"/api/v1/cases/{case_id}/evidence", files={"file": (filename, content)}, data=data)


def new_actor(client, *, admin: bool = False, prefix: str = "user") -> Actor:
    """A new user (optionally admin) with a fresh API token, as an Actor."""
    email = f"{prefix}-{uuid.uuid4().hex[:12]}@firm.example"
    with session_scope() as session:
        user = user_service.create_user(session, UserCreate(email=email, password=PASSWORD, is_admin=admin))
        token, _ = user_service.issue_token(session, user, ttl=timedelta(hours=1))
    return Actor(client, email, token)


@pytest.fixture
def make_user(client, database_url):
    """Factory: a new user (optionally admin) and a fresh API token, as an Actor."""

    def factory(*, admin: bool = False) -> Actor:
        return new_actor(client, admin=admin)

    return factory


@pytest.fixture
def alice(make_user) -> Actor:
    return make_user()


@pytest.fixture
def bob(make_user) -> Actor:
    return make_user()


@pytest.fixture(scope="module")
def world(client):
    """An administrator owning a New York case with an evidence item (its exhibit too) and a manual event. One
    per module: hostile requests are refused, so they leave it as it was."""
    from tests.helpers import send

    owner = new_actor(client, admin=True, prefix="hostile")
    case = owner.make_case(timezone="America/New_York")
    item = owner.upload(case["id"], b"order record", kind="order_record", title="Order").json()
    event = send(owner, "POST", f"/cases/{case['id']}/events", {"occurred_at": "2021-03", "title": "Refund"})
    assert event.status_code == 201, event.text
    ids = {"case": case["id"], "evidence": item["id"], "exhibit": item["exhibit"]["id"], "event": event.json()["id"]}
    return owner, ids


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """A small generated evidence set: screenshots, insert-card photos, PDFs, an email, records."""
    from api.demo_data import generate

    return generate(tmp_path_factory.mktemp("corpus"), exhibits=6, records=40)


@pytest.fixture(scope="session")
def build_corpus(tmp_path_factory):
    """A larger generated evidence set (18 exhibits): a bundle of it builds long enough to be caught building. Read
    only, so made once (in a second or more) for the tests that upload it to servers of their own."""
    from api.demo_data import generate

    return generate(tmp_path_factory.mktemp("build-corpus"), exhibits=18, records=40)


def count_rows(table: str) -> int:
    with session_scope() as session:
        return session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def stored_blobs(root: Path) -> set[str]:
    return {p.name for p in (root / "sha256").rglob("*") if p.is_file()} if (root / "sha256").exists() else set()


def staged_files(root: Path) -> list[Path]:
    return list((root / "tmp").glob("*")) if (root / "tmp").exists() else []


def live_client(base_url: str, actor: Actor) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers=actor.headers, timeout=60)


@pytest.fixture
def browsers(app):
    """Factory: `browsers(actor)` (or an e-mail and a password) -> a web client signed in through the form as that
    person (tests/web_support.py), closed after the test."""
    from tests.web_support import sign_in

    opened = []

    def open_for(actor_or_email, password: str = PASSWORD):
        email = getattr(actor_or_email, "email", actor_or_email)
        browser = sign_in(app, email, password)
        opened.append(browser)
        return browser

    yield open_for
    for browser in opened:
        browser.close()
