"""The background runners outlive a database outage and pick up queued work once it is back; /healthz and /readyz
say when the database is unreachable or a runner is dead or stuck.

The outages are real. On PostgreSQL the app database stops accepting connections and its sessions are terminated;
on SQLite another connection holds the write lock, with the server's busy timeout shortened, so the runners' own
claims fail with "database is locked". A runner is stopped for real by raising SystemExit in its thread, and made
stuck for real by a lock its claim waits on.
"""

import ctypes
import re
import sqlite3
import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text, update
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from api.config import get_settings
from api.db import make_engine
from api.worker import runner
from models.bundle import Bundle, BundleRequest
from models.exhibit import Exhibit
from models.user import User
from models.verify import VerifyRun
from tests.helpers import TunedInstance, wait_done
from tests.server_process import case_with_an_exhibit, fresh_database, wait_for

pytestmark = pytest.mark.slow


def _postgres(url: str) -> bool:
    return url.startswith("postgresql")


@contextmanager
def database_outage(url: str):
    """The database away for the block's duration, for every connection of the server."""
    if _postgres(url):
        target = make_url(url)
        admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
        name = target.database
        try:
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
                conn.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                    {"name": name},
                )
            yield
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            admin.dispose()
    else:
        with sqlite_write_lock(url):
            yield


@contextmanager
def sqlite_write_lock(url: str):
    """Another connection holding SQLite's write lock: readers go on, every writer waits its busy timeout."""
    lock = sqlite3.connect(make_url(url).database, isolation_level=None)
    try:
        lock.execute("BEGIN IMMEDIATE")
        yield
    finally:
        lock.execute("ROLLBACK")
        lock.close()


def _queue_straight(url: str, email: str, case_id: str, *, verify: bool = True) -> tuple[uuid.UUID, uuid.UUID | None]:
    """A queued bundle of the case and (if `verify`) a queued verify run, written straight into the database, so no
    request wakes the runners: they find them on their own next look."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            user = session.exec(select(User).where(User.email == email)).one()
            exhibits = session.exec(select(Exhibit.id).where(Exhibit.case_id == uuid.UUID(case_id))).all()
            params = BundleRequest().model_dump(mode="json") | {
                "exhibit_ids": [str(i) for i in exhibits],
                "bates_prefix": "CB",
            }
            bundle = Bundle(
                case_id=uuid.UUID(case_id),
                title="Queued during the outage",
                params=params,
                bates_prefix="CB",
                created_by=user.id,
            )
            run = VerifyRun(requested_by=user.id) if verify else None
            session.add_all([bundle, run] if run else [bundle])
            session.commit()
            return bundle.id, run.id if run else None
    finally:
        engine.dispose()


def _finished(http, path: str) -> dict:
    return wait_for(
        lambda: (b := http.get(path).json())["status"] in ("done", "failed") and b,
        seconds=120,
        what=f"{path} to finish",
        interval=0.1,
    )


def _both_failing(http) -> list[str] | None:
    """The problems /healthz names, once they include both runners failing."""
    r = http.get("/healthz")
    problems = r.json().get("problems", []) if r.status_code == 503 else []
    named = all(any(f"the {kind} runner has failed for" in p for p in problems) for kind in ("bundle", "verify"))
    return problems if named else None


def test_runners_survive_a_database_outage_and_build_what_is_queued(tmp_path):
    url, drop = fresh_database(tmp_path)
    # SQLite: writers give up after 0.2 s instead of 30, so the runners' claims fail within the outage; a runner is
    # reported once all its rounds have failed for 2 s.
    server = TunedInstance(
        url,
        tmp_path / "blobs",
        extra={"CASEBINDER_SQLITE_BUSY_TIMEOUT_MS": "200", "CASEBINDER_RUNNER_STUCK_SECONDS": "2"},
    )
    server.add_user(admin=True)
    server.start()
    try:
        with server.client() as http:
            email = http.get("/api/v1/auth/me").json()["email"]
            case, _ = case_with_an_exhibit(http, case_title="Acme v. Outage")
            queued = None if _postgres(url) else _queue_straight(url, email, case["id"])

            with database_outage(url):
                # Both runners look for work at least every 5 s, and are reported once every round has failed for
                # 2 s: held until /healthz names both.
                problems = wait_for(lambda: _both_failing(http), seconds=60, what="/healthz to name both runners")
                assert any("OperationalError" in p for p in problems), problems
                if _postgres(url):
                    assert problems[0].startswith("the database is unreachable"), problems
                assert http.get("/readyz").status_code == 503

            wait_for(lambda: http.get("/healthz").status_code == 200, seconds=60, what="/healthz to recover")
            if queued:  # queued while the database was away: built once it is back
                bundle_id, run_id = queued
                assert _finished(http, f"/api/v1/bundles/{bundle_id}")["status"] == "done"
                assert _finished(http, f"/api/v1/admin/verify-runs/{run_id}")["status"] == "done"
            after = http.post(f"/api/v1/cases/{case['id']}/bundles", json={"title": "After the outage"})
            assert after.status_code == 202, after.text
            assert _finished(http, f"/api/v1/bundles/{after.json()['id']}")["status"] == "done"
            run = http.post("/api/v1/admin/verify-runs", json={})
            assert run.status_code == 202, run.text
            assert _finished(http, f"/api/v1/admin/verify-runs/{run.json()['id']}")["status"] == "done"
            assert http.get("/healthz").json() == {"status": "ok"}
            assert http.get("/readyz").json() == {"status": "ready"}
    finally:
        server.kill()
        drop()


def _kill_thread(thread) -> None:
    """Raise SystemExit inside `thread`, as an error no runner catches would: the thread ends."""
    done = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(SystemExit))
    assert done == 1


@pytest.mark.embedded(reason="kills the app's bundle runner thread")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_runner_makes_healthz_and_readyz_answer_503(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    thread = runner._thread
    _kill_thread(thread)
    runner.wake()  # out of its wait, so the exception is raised now
    thread.join(timeout=30)
    assert not thread.is_alive()
    try:
        r = client.get("/healthz")
        assert r.status_code == 503, r.text
        assert r.json()["problems"] == ["the bundle runner has stopped: its thread died"]
        assert r.json()["detail"] == "the bundle runner has stopped: its thread died"
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "not ready"
    finally:
        runner.start()
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def _queued_without_waking(alice, database_url: str) -> uuid.UUID:
    """A bundle of a new case, queued straight into the database: the runner finds it on its next look."""
    case = alice.make_case(bates_prefix="STUCK")
    alice.upload(case["id"], b"stuck\n", filename="stuck.txt", title="Stuck")
    bundle_id, _ = _queue_straight(database_url, alice.email, case["id"], verify=False)
    return bundle_id


@contextmanager
def _row_locked(database_url: str, bundle_id: uuid.UUID):
    """A lock the runner's claim of this bundle waits on: the row (PostgreSQL) or the database (SQLite)."""
    if not _postgres(database_url):
        with sqlite_write_lock(database_url):
            yield
        return
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            held = conn.begin()
            conn.execute(update(Bundle).where(Bundle.id == bundle_id).values(title="Locked"))
            try:
                yield
            finally:
                held.rollback()
    finally:
        engine.dispose()


@pytest.mark.embedded(reason="makes the app's bundle runner thread stuck and reads /healthz's runner report")
def test_a_stuck_runner_is_reported_until_it_comes_round_again(alice, database_url, monkeypatch):
    monkeypatch.setattr(get_settings(), "runner_stuck_seconds", 1.0)
    bundle_id = _queued_without_waking(alice, database_url)
    with _row_locked(database_url, bundle_id):
        runner.wake()
        # On SQLite the lock holds every writer up: the text runner may be reported stuck beside it, or first.
        problems = wait_for(
            lambda: [p for p in alice.client.get("/healthz").json().get("problems", []) if p.startswith("the bundle")],
            seconds=25,  # within SQLite's 30 s busy timeout
            what="/healthz to report the stuck runner",
        )
        assert alice.client.get("/healthz").status_code == 503
        [problem] = problems
        assert re.fullmatch(r"the bundle runner is stuck: its loop has not come round for \d+ s", problem), problem
    done = wait_done(alice, str(bundle_id))
    assert done["status"] == "done", done
    wait_for(lambda: alice.client.get("/healthz").status_code == 200, seconds=30, what="/healthz to recover")


@pytest.fixture(autouse=True)
def _runners_alive():
    yield
    if runner._thread is not None and not runner._thread.is_alive():
        runner.start()
