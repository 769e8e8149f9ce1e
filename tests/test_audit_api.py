"""The case audit API over real HTTP: every column of the chain, filters, keyset pages in both orders, and
who may read it."""

import base64
import json
import uuid
from datetime import datetime, timedelta

import pytest

from api.services import audit


def audit_page(reader, case_id: str, **params) -> dict:
    r = reader.get(f"/api/v1/cases/{case_id}/audit", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def walk(reader, case_id: str, **params) -> list[dict]:
    """Every event, page by page, following next_cursor."""
    items, cursor = [], None
    while True:
        body = audit_page(reader, case_id, **params, **({"cursor": cursor} if cursor else {}))
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def recomputes(e: dict) -> bool:
    return audit.chain_hash(e["prev_hash"], e | {"at": datetime.fromisoformat(e["at"])}) == e["hash"]


@pytest.fixture
def trail(alice, bob, make_user):
    """Alice's case with activity by her and by bob (an editor), interleaved with another case's events."""
    case = alice.make_case(title="Audit v. Trail")
    other = make_user()
    elsewhere = other.make_case(title="Somebody else's case")
    assert alice.post(f"/api/v1/cases/{case['id']}/members", json={"email": bob.email, "role": "editor"}).is_success
    first = alice.upload(case["id"], b"first " + uuid.uuid4().bytes, filename="first.txt", title="First").json()
    other.upload(elsewhere["id"], b"elsewhere " + uuid.uuid4().bytes, filename="x.txt", title="X")  # a gap
    second = bob.upload(case["id"], b"second " + uuid.uuid4().bytes, filename="second.txt", title="Second").json()
    for item in (first, second):
        assert alice.get(f"/api/v1/evidence/{item['id']}").status_code == 200
    assert bob.get(f"/api/v1/evidence/{first['id']}/content").status_code == 200
    assert alice.patch(f"/api/v1/evidence/{first['id']}", json={"title": "First, renamed"}).status_code == 200
    ex = f"/api/v1/cases/{case['id']}/exhibits/{second['exhibit']['id']}"
    assert bob.patch(ex, json={"label": "PX-900"}).status_code == 200
    return {"case": case, "first": first, "second": second, "elsewhere": elsewhere}


def test_owner_reads_every_column_in_chain_order_and_each_hash_recomputes(alice, bob, trail):
    case = trail["case"]
    events = audit_page(alice, case["id"])
    items = events["items"]
    assert events["next_cursor"] is None
    assert [e["action"] for e in items] == [
        "case.create",
        "member.add",
        "evidence.upload",
        "exhibit.link",
        "evidence.upload",
        "exhibit.link",
        "evidence.view",
        "evidence.view",
        "evidence.download",
        "evidence.update",
        "exhibit.relabel",
    ]
    assert set(items[0]) == {
        "seq", "id", "at", "actor_id", "actor_email", "action", "case_id", "evidence_id",
        "object_type", "object_id", "details", "ip", "user_agent", "prev_hash", "hash",
    }  # fmt: skip
    seqs = [e["seq"] for e in items]
    assert seqs == sorted(set(seqs)) and all(e["case_id"] == case["id"] for e in items)
    assert all(recomputes(e) for e in items)
    # Where no other case's event came between, each links to the one before it; the other case made a gap.
    adjacent = [(a, b) for a, b in zip(items, items[1:], strict=False) if b["seq"] == a["seq"] + 1]
    assert adjacent and all(b["prev_hash"] == a["hash"] for a, b in adjacent)
    assert any(b["seq"] > a["seq"] + 1 and b["prev_hash"] != a["hash"] for a, b in zip(items, items[1:], strict=False))
    update = next(e for e in items if e["action"] == "evidence.update")
    assert update["details"] == {"before": {"title": "First"}, "after": {"title": "First, renamed"}}
    assert update["evidence_id"] == trail["first"]["id"] and update["actor_email"] == alice.email

    newest_first = audit_page(alice, case["id"], order="desc")["items"]
    assert newest_first == items[::-1]


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_cursor_pages_lose_and_repeat_nothing(alice, trail, order):
    case = trail["case"]
    whole = audit_page(alice, case["id"], order=order)["items"]
    for limit in (1, 3, 4):
        paged = walk(alice, case["id"], order=order, limit=limit)
        assert [e["id"] for e in paged] == [e["id"] for e in whole]
    last_page = audit_page(alice, case["id"], order=order, limit=len(whole))
    assert last_page["next_cursor"] is None and len(last_page["items"]) == len(whole)


def test_filters_action_actor_object_evidence_and_time(alice, bob, trail):
    case, first, second = trail["case"], trail["first"], trail["second"]
    cid = case["id"]

    def actions(**params) -> list[str]:
        return [e["action"] for e in walk(alice, cid, **params)]

    assert actions(action="evidence.view") == ["evidence.view", "evidence.view"]
    assert actions(action=["evidence.view", "exhibit.relabel"]) == ["evidence.view", "evidence.view", "exhibit.relabel"]
    assert actions(action="evidence.view,exhibit.relabel") == actions(action=["evidence.view", "exhibit.relabel"])
    evidence_only = ["evidence.upload", "evidence.upload", "evidence.view", "evidence.view"]
    assert actions(action="evidence.") == evidence_only + ["evidence.download", "evidence.update"]
    assert actions(action="evidence.*") == actions(action="evidence.")
    assert actions(action="evidence") == []  # exact unless it ends in "." or "*"
    assert actions(action="EVIDENCE.") == []  # a prefix matches case-sensitively on both databases

    by_bob = walk(alice, cid, actor=bob.email)
    assert [e["action"] for e in by_bob] == ["evidence.upload", "exhibit.link", "evidence.download", "exhibit.relabel"]
    assert walk(alice, cid, actor=by_bob[0]["actor_id"]) == by_bob
    assert walk(alice, cid, actor=bob.email.upper()) == by_bob
    assert len(walk(alice, cid, actor=[alice.email, bob.email])) == len(walk(alice, cid))

    about_first = walk(alice, cid, evidence_id=first["id"])
    assert {e["evidence_id"] for e in about_first} == {first["id"]} and len(about_first) == 5
    exhibit_events = walk(alice, cid, object_id=second["exhibit"]["id"])
    assert [e["action"] for e in exhibit_events] == ["exhibit.link", "exhibit.relabel"]
    relabel = exhibit_events[1]
    assert relabel["details"]["after"] == {"label": "PX-900"}

    everything = walk(alice, cid)
    middle = everything[len(everything) // 2]
    at = datetime.fromisoformat(middle["at"])
    start = walk(alice, cid, start=at.isoformat())
    end = walk(alice, cid, end=at.isoformat())
    assert end + start == everything  # start inclusive, end exclusive: the two halves tile the trail
    assert middle in start and middle not in end
    naive = at.replace(tzinfo=None).isoformat()  # no offset means UTC
    assert walk(alice, cid, start=naive) == start
    window = walk(alice, cid, start=at.isoformat(), end=(at + timedelta(microseconds=1)).isoformat())
    assert middle in window and all(e["at"] == middle["at"] for e in window)
    assert walk(alice, cid, start="2000-01-01", end="2000-01-02") == []


def test_who_may_read_and_bad_input(alice, bob, make_user, trail):
    cid = trail["case"]["id"]
    path = f"/api/v1/cases/{cid}/audit"
    viewer, stranger = make_user(), make_user()
    assert alice.post(f"/api/v1/cases/{cid}/members", json={"email": viewer.email, "role": "viewer"}).is_success
    for member in (bob, viewer):  # editor and viewer
        r = member.get(path)
        assert r.status_code == 403 and "owner" in r.json()["detail"]
    r = stranger.get(path)
    assert (r.status_code, r.json()) == (404, {"detail": "case not found"})
    assert stranger.get(f"/api/v1/cases/{uuid.uuid4()}/audit").json() == r.json()
    # Another case's owner cannot read it with a case of their own either.
    assert alice.get(f"/api/v1/cases/{trail['elsewhere']['id']}/audit").status_code == 404

    first = audit_page(alice, cid, limit=2)
    assert first["next_cursor"]

    def forge(*values) -> str:
        return base64.urlsafe_b64encode(json.dumps(["audit-asc", *values]).encode()).decode().rstrip("=")

    for cursor in ("not-a-cursor", forge("1; drop"), forge(10**30), forge(-1), forge(1, 2), first["next_cursor"][:-2]):
        r = alice.get(path, params={"cursor": cursor})
        assert r.status_code == 400 and "invalid cursor" in r.json()["detail"], cursor
    r = alice.get(path, params={"cursor": first["next_cursor"], "order": "desc"})  # an ascending walk's cursor
    assert r.status_code == 400

    for params, needle in (
        ({"start": "yesterday"}, "start"),
        ({"end": "2021-13-40"}, "end"),
        ({"start": "2021-03-05", "end": "2021-03-04"}, "before end"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"action": "*"}, "prefix"),
        ({"start": "9999-12-31T23:59:59-05:00"}, "out of range"),
        ({"actor": "alice\x00@firm.example"}, "NUL"),
        ({"object_id": "\x00"}, "NUL"),
    ):
        r = alice.get(path, params=params)
        assert r.status_code == 422 and needle in str(r.json()["detail"]), (params, r.text)
    assert alice.get(path, params={"order": "sideways"}).status_code == 422
    assert alice.get(path, params={"evidence_id": "not-a-uuid"}).status_code == 422
