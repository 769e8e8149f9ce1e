"""Verify runs: the integrity check queued over HTTP and run in the background by the server's verify runner.

Most tests use the suite's in-process app, whose lifespan runs the runner thread. The suite's shared store holds
rows from other tests whose blobs live elsewhere, so there a run is compared with a synchronous check made right
after it rather than expected clean; the clean run, and the start-up recovery of a real server process, use an
instance of their own.
"""

import time
import uuid
from datetime import datetime

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from api.db import make_engine, session_scope
from api.services import audit
from api.services import verify_runs as verify_run_service
from api.worker import verify_runner
from models.audit import AuditEvent
from models.bundle import Bundle
from models.common import utcnow
from models.user import User
from models.verify import VerifyRun, VerifyRunStatus
from tests.conftest import count_rows
from tests.server_process import Instance, fresh_database, wait_for

pytestmark = pytest.mark.slow

RUNS = "/api/v1/admin/verify-runs"
# What a run and a check made right after it on an unchanged store both count.
STORE_COUNTS = ("checks", "originals", "evidence_rows", "volumes", "files_on_disk", "bytes_hashed", "findings")


def finished(http, run_id: str) -> dict:
    """Poll the run until the runner has finished it, done or failed."""
    return wait_for(
        lambda: (r := http.get(f"{RUNS}/{run_id}").json())["status"] in ("done", "failed") and r,
        seconds=300,
        what=f"verify run {run_id}",
        interval=0.1,
    )


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def bundles_idle(limit: float = 300) -> None:
    """Let queued bundle builds of earlier tests finish: a volume landing mid-test would change the counts."""
    deadline = time.monotonic() + limit
    while True:
        with session_scope() as session:
            busy = session.execute(select(func.count()).where(Bundle.status.in_(("queued", "running")))).scalar_one()
        if not busy:
            return
        assert time.monotonic() < deadline, f"{busy} bundle build(s) still unfinished"
        time.sleep(0.2)


def verify_events(actor_email: str) -> list[AuditEvent]:
    with session_scope() as session:
        stmt = select(AuditEvent).where(AuditEvent.action == "verify", AuditEvent.actor_email == actor_email)
        return list(session.execute(stmt.order_by(AuditEvent.seq)).scalars())


def test_a_queued_run_ends_with_what_a_synchronous_verify_answers(make_user):
    admin = make_user(admin=True)
    bundles_idle()
    r = admin.post(RUNS)
    assert r.status_code == 202, r.text
    queued = r.json()
    assert queued["status"] == "queued" and queued["requested_by_email"] == admin.email
    assert (queued["started_at"], queued["finished_at"], queued["result"], queued["error"]) == (None,) * 4

    run = finished(admin, queued["id"])
    sync = admin.post("/api/v1/admin/verify").json()
    assert run["status"] == "done" and run["error"] is None, run
    assert at(queued["requested_at"]) <= at(run["started_at"]) <= at(run["finished_at"])
    result = run["result"]
    assert {k: result[k] for k in STORE_COUNTS} == {k: sync[k] for k in STORE_COUNTS}
    assert result["ok"] == sync["ok"] and "audit chain walked" in result["checks"]
    assert sync["audit_events"] > result["audit_events"]  # the run's own event, at least, came after its walk
    assert admin.get(f"{RUNS}/{queued['id']}").json() == run  # a finished run stays as it is


def test_the_requesting_admin_is_the_actor_of_the_runs_verify_event(make_user):
    admin = make_user(admin=True)
    with session_scope() as session:
        head = audit.head(session)
    run = admin.post(RUNS, json={"anchors": [{"seq": head.seq, "hash": head.hash}]}).json()
    run = finished(admin, run["id"])
    [event] = verify_events(admin.email)
    me = admin.get("/api/v1/auth/me").json()
    assert str(event.actor_id) == me["id"]
    assert event.details["anchors"] == [head.text()]
    assert event.details["ok"] == run["result"]["ok"]
    assert event.details["head"] == (f"{a['seq']}:{a['hash']}" if (a := run["result"]["anchor"]) else None)


def test_anchors_given_to_a_run_are_compared(make_user):
    admin = make_user(admin=True)
    with session_scope() as session:
        head = audit.head(session)
    anchors = [
        {"seq": head.seq, "hash": head.hash},
        {"seq": head.seq, "hash": "b" * 64},
        {"seq": 10**9, "hash": "a" * 64},
    ]
    r = admin.post(RUNS, json={"anchors": anchors})
    assert r.status_code == 202, r.text
    result = finished(admin, r.json()["id"])["result"]
    assert result["ok"] is False and result["anchor"] is None
    assert result["anchors_checked"] == 3 and "audit anchors compared" in result["checks"]
    broken = {ref: f["detail"] for f in result["findings"] for ref in f["refs"] if ref.endswith("(anchor)")}
    changed, beyond = f"audit seq {head.seq} (anchor)", f"audit seq {10**9} (anchor)"
    assert set(broken) == {changed, beyond}
    assert f"anchored at {head.seq}:{'b' * 64}, but the event now has hash {head.hash}" in broken[changed]
    assert f"the trail has no event {10**9}" in broken[beyond]
    [event] = verify_events(admin.email)
    assert sorted(event.details["anchors"]) == sorted(f"{a['seq']}:{a['hash']}" for a in anchors)


def test_runs_are_listed_newest_first_a_page_at_a_time(make_user):
    admin = make_user(admin=True)
    ids = [admin.post(RUNS).json()["id"] for _ in range(3)]
    first = admin.get(RUNS, params={"limit": 2})
    assert first.status_code == 200, first.text
    page = first.json()
    assert [run["id"] for run in page["items"]] == [ids[2], ids[1]] and page["next_cursor"]
    second = admin.get(RUNS, params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert second["items"][0]["id"] == ids[0]

    seen, cursor = [], None
    while True:
        page = admin.get(RUNS, params={"limit": 3} | ({"cursor": cursor} if cursor else {})).json()
        seen += page["items"]
        if not (cursor := page["next_cursor"]):
            break
    assert len({run["id"] for run in seen}) == len(seen) == count_rows("verify_runs")
    assert [at(run["requested_at"]) for run in seen] == sorted((at(run["requested_at"]) for run in seen), reverse=True)
    assert {run["requested_by_email"] for run in seen if run["id"] in ids} == {admin.email}

    assert admin.get(RUNS, params={"cursor": "not-a-cursor"}).status_code == 400
    assert admin.get(RUNS, params={"limit": 0}).status_code == 422
    for run_id in ids:
        assert finished(admin, run_id)["status"] == "done"


def test_only_admins_queue_list_and_read_runs(make_user, alice):
    admin = make_user(admin=True)
    run = admin.post(RUNS).json()
    before = count_rows("verify_runs")
    for method, path in (("POST", RUNS), ("GET", RUNS), ("GET", f"{RUNS}/{run['id']}")):
        r = alice.request(method, path)
        assert r.status_code == 403 and "administrator" in r.json()["detail"], (method, path, r.text)
    assert count_rows("verify_runs") == before
    finished(admin, run["id"])


def test_an_unknown_run_is_404_and_a_bad_anchor_422(make_user):
    admin = make_user(admin=True)
    r = admin.get(f"{RUNS}/{uuid.uuid4()}")
    assert (r.status_code, r.json()) == (404, {"detail": "verify run not found"})
    before = count_rows("verify_runs")
    for anchor in ({"seq": 0, "hash": "a" * 64}, {"seq": 5, "hash": "B" * 64}, {"seq": 5, "hash": "abc"}):
        r = admin.post(RUNS, json={"anchors": [anchor]})
        assert r.status_code == 422, (anchor, r.text)
    assert count_rows("verify_runs") == before


def test_a_run_left_running_by_a_stopped_server_is_failed_at_start_up(make_user):
    admin = make_user(admin=True)
    me = uuid.UUID(admin.get("/api/v1/auth/me").json()["id"])
    with session_scope() as session:
        left, elsewhere = (
            VerifyRun(requested_by=me, status=VerifyRunStatus.running, started_at=utcnow()) for _ in range(2)
        )
        session.add_all([left, elsewhere])
    other_server = verify_runner.lease(elsewhere.id)  # as a second server on the same data dir would hold it
    assert other_server.acquire()
    try:
        assert verify_runner.recover() == 1
        failed = admin.get(f"{RUNS}/{left.id}").json()
        assert failed["status"] == "failed" and failed["error"] == verify_run_service.INTERRUPTED
        assert failed["error"] == "interrupted: the server stopped during the run; start a new one"
        assert failed["finished_at"] is not None and failed["result"] is None
        assert admin.get(f"{RUNS}/{elsewhere.id}").json()["status"] == "running"
    finally:
        other_server.release()
    assert verify_runner.recover() == 1  # that server gone too
    assert admin.get(f"{RUNS}/{elsewhere.id}").json()["error"] == verify_run_service.INTERRUPTED
    assert verify_events(admin.email) == []  # an interrupted run recorded no check


@pytest.mark.embedded(reason="makes the verify service raise in this process, which the workers cannot see")
def test_a_run_that_raises_is_failed_with_the_reason(make_user, monkeypatch):
    admin = make_user(admin=True)

    def unreadable(*args, **kwargs):
        raise OSError("the blob store is not mounted")

    monkeypatch.setattr(verify_run_service.verify_service, "run", unreadable)
    run = finished(admin, admin.post(RUNS).json()["id"])
    assert run["status"] == "failed" and run["error"] == "OSError: the blob store is not mounted"
    assert run["result"] is None and run["finished_at"] is not None
    assert verify_events(admin.email) == []


# On a store of its own: clean, so the run must say so; and a real server process, stopped and started again.


@pytest.fixture
def instance(tmp_path, corpus):
    url, drop = fresh_database(tmp_path)
    server = Instance(url, tmp_path / "blobs")
    server.add_user(admin=True)
    server.start()
    try:
        with server.client() as http:
            case = http.post("/api/v1/cases", json={"title": "Acme v. Runs", "case_type": "lanham_act"}).json()
            for f in corpus[:2]:
                r = http.post(
                    f"/api/v1/cases/{case['id']}/evidence",
                    files={"file": (f.path.name, f.path.read_bytes())},
                    data={"kind": f.kind, "title": f.title},
                )
                assert r.status_code == 201, r.text
        yield server
    finally:
        server.kill()
        drop()


def test_a_run_on_a_clean_store_is_ok_and_survives_a_restart_as_failed_if_cut_short(instance):
    with instance.client() as http:
        queued = http.post(RUNS).json()
        run = finished(http, queued["id"])
        sync = http.post("/api/v1/admin/verify").json()
    result = run["result"]
    assert run["status"] == "done" and result["ok"] is True and result["findings"] == []
    assert (result["originals"], result["evidence_rows"]) == (2, 2)
    assert {k: result[k] for k in STORE_COUNTS} == {k: sync[k] for k in STORE_COUNTS}
    assert sync["audit_events"] == result["audit_events"] + 1  # all but the sync check's own: the run's included
    assert result["anchor"]["seq"] == result["audit_events"]

    instance.kill()  # as a crash would, mid-run
    engine = make_engine(instance.database_url)
    try:
        with Session(engine) as session:
            [requester] = session.execute(select(User.id)).scalars()
            cut = VerifyRun(requested_by=requester, status=VerifyRunStatus.running, started_at=utcnow())
            session.add(cut)
            session.commit()
            cut_id = cut.id
    finally:
        engine.dispose()
    instance.start()
    with instance.client() as http:
        failed = http.get(f"{RUNS}/{cut_id}").json()
        assert failed["status"] == "failed" and failed["error"] == verify_run_service.INTERRUPTED
        assert http.get(f"{RUNS}/{queued['id']}").json() == run
