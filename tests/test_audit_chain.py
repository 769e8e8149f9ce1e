"""The audit trail as written by real requests: what each action records, that it commits or rolls back with
the change it records, and that concurrent requests extend one chain without forking it."""

import threading
import uuid

from sqlmodel import select

from api.db import session_scope
from api.services import audit
from models.audit import AuditEvent
from tests.conftest import live_client


def events(**where) -> list[AuditEvent]:
    with session_scope() as session:
        stmt = select(AuditEvent).order_by(AuditEvent.seq)
        for name, value in where.items():
            stmt = stmt.where(getattr(AuditEvent, name) == value)
        return list(session.exec(stmt))


def assert_chain_intact() -> None:
    with session_scope() as session:
        report = audit.walk_chain(session)
    assert report.first_break is None, report.first_break.line()
    assert report.events == report.head_seq


def test_each_action_is_recorded_with_actor_origin_and_object(alice, corpus):
    case = alice.make_case()
    f = corpus[0]
    item = alice.upload(case["id"], f.path.read_bytes(), f.path.name, kind=f.kind, title=f.title).json()
    assert (
        alice.get(f"/api/v1/evidence/{item['id']}", headers={"User-Agent": "paralegal-browser/1.0"}).status_code == 200
    )
    assert alice.get(f"/api/v1/evidence/{item['id']}/content").status_code == 200
    r = alice.patch(f"/api/v1/evidence/{item['id']}", json={"title": "Insert card, Mpow box"})
    assert r.status_code == 200

    trail = events(evidence_id=uuid.UUID(item["id"]))
    assert [e.action for e in trail] == [
        "evidence.upload",
        "exhibit.link",
        "evidence.view",
        "evidence.download",
        "evidence.update",
    ]
    upload, link, view, _, update = trail
    assert upload.actor_email == alice.email and upload.case_id == uuid.UUID(case["id"])
    assert upload.details["sha256"] == item["sha256"] and upload.details["original_filename"] == f.path.name
    assert upload.details["size_bytes"] == item["size_bytes"] and upload.details["duplicate"] is False
    assert link.details["label"] == item["exhibit"]["label"]
    assert view.user_agent == "paralegal-browser/1.0" and view.ip  # the test client's address
    assert update.details == {"before": {"title": f.title}, "after": {"title": "Insert card, Mpow box"}}
    assert events(object_id=case["id"], action="case.create")[0].actor_email == alice.email
    assert_chain_intact()


def test_a_failed_request_leaves_no_event_but_a_failed_login_does(client, alice):
    case = alice.make_case()
    before = events(case_id=uuid.UUID(case["id"]))
    r = alice.patch(f"/api/v1/cases/{case['id']}", json={"title": "Renamed", "timezone": "Mars/Olympus"})
    assert r.status_code == 422
    assert events(case_id=uuid.UUID(case["id"])) == before  # nothing changed, nothing recorded

    r = client.post("/api/v1/auth/token", data={"username": alice.email, "password": "wrong guess"})
    assert r.status_code == 401
    failed = events(action="login_failed", actor_email=alice.email)
    assert len(failed) == 1 and failed[0].details == {"reason": "wrong password"}
    r = client.post("/api/v1/auth/token", data={"username": "nobody@firm.example", "password": "x"})
    assert r.status_code == 401
    assert events(action="login_failed", actor_email="nobody@firm.example")[-1].details == {"reason": "unknown email"}
    assert_chain_intact()


def test_an_update_records_only_what_changed(alice):
    case = alice.make_case(title="Acme v. Before")
    r = alice.patch(f"/api/v1/cases/{case['id']}", json={"title": "Acme v. After", "timezone": "UTC"})
    assert r.status_code == 200
    [update] = events(case_id=uuid.UUID(case["id"]), action="case.update")
    assert update.details == {"before": {"title": "Acme v. Before"}, "after": {"title": "Acme v. After"}}


def test_concurrent_requests_extend_one_chain(live_server, alice):
    case = alice.make_case()
    start = max(e.seq for e in events())
    errors = []

    def work(n: int) -> None:
        with live_client(live_server, alice) as http:
            for i in range(3):
                r = http.post(
                    f"/api/v1/cases/{case['id']}/evidence",
                    files={"file": (f"chat-{n}-{i}.txt", f"seller chat {n} {i} {uuid.uuid4()}".encode())},
                    data={"kind": "chat_log", "title": f"Chat {n}.{i}"},
                )
                if r.status_code != 201:
                    errors.append(r.text)
                if http.get(f"/api/v1/evidence/{r.json()['id']}").status_code != 200:
                    errors.append("view failed")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []

    new = [e for e in events() if e.seq > start]
    mine = [e for e in new if e.case_id == uuid.UUID(case["id"])]
    # 18 uploads, each linked as an exhibit, and 18 views.
    assert sorted(e.action for e in mine).count("evidence.upload") == 18
    assert sorted(e.action for e in mine).count("evidence.view") == 18
    seqs = [e.seq for e in new]
    assert seqs == list(range(start + 1, start + 1 + len(new)))  # no gaps, no duplicates
    assert len({e.prev_hash for e in new}) == len(new)  # no two events claim the same predecessor: no fork
    assert_chain_intact()
