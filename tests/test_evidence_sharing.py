"""Sharing evidence between cases: who may take an item into another case, who may change what every case
sharing it sees, and what a case's export may carry.

The rule: evidence belongs to the case it was uploaded into (its home). Its owners decide what leaves it:
linking it into another case needs the owner role there, as well as editor in the case it goes into. Members
of any case it is in may read it; only editors of its home case change its metadata, which every case sharing
it sees. A case's export holds exactly the evidence its members can read through it, and a case's timeline
cites only evidence in the case, so an exhibit a manual event cites cannot be unlinked from under it.
"""

import io
import json
import uuid
import zipfile

from sqlmodel import select

from api.db import session_scope
from api.services.transfer import importer as case_import
from models.exhibit import Exhibit


def link(actor, case_id: str, evidence_id: str):
    return actor.post(f"/api/v1/cases/{case_id}/exhibits", json={"evidence_id": evidence_id})


def add_member(owner, case_id: str, member, role: str) -> None:
    r = owner.post(f"/api/v1/cases/{case_id}/members", json={"email": member.email, "role": role})
    assert r.status_code in (200, 201), r.text


def test_an_editor_cannot_take_a_shared_cases_evidence_into_his_own_case(alice, bob):
    """The reported path: link into a private case, get removed, keep reading and retitling the original."""
    shared = alice.make_case(title="Shared v. Seller")
    item = alice.upload(shared["id"], b"the firm's evidence " + uuid.uuid4().bytes, title="Refund log").json()
    add_member(alice, shared["id"], bob, "editor")
    private = bob.make_case(title="Bob's own case")

    r = link(bob, private["id"], item["id"])
    assert r.status_code == 403, r.text
    assert "owner role in the case it was uploaded into" in r.json()["detail"]
    me = bob.get("/api/v1/auth/me").json()["id"]
    assert alice.delete(f"/api/v1/cases/{shared['id']}/members/{me}").status_code == 204
    for suffix in ("", "/content", "/custody"):
        assert bob.get(f"/api/v1/evidence/{item['id']}{suffix}").status_code == 404
    assert bob.patch(f"/api/v1/evidence/{item['id']}", json={"title": "Retitled"}).status_code == 404
    assert alice.get(f"/api/v1/evidence/{item['id']}").json()["title"] == "Refund log"
    assert bob.get(f"/api/v1/cases/{private['id']}/exhibits").json()["items"] == []


def test_owners_share_their_cases_evidence_and_editors_link_within_the_case(alice, bob):
    home = alice.make_case(title="Home")
    elsewhere = alice.make_case(title="Elsewhere")
    item = alice.upload(home["id"], b"shared by its owner " + uuid.uuid4().bytes).json()
    assert link(alice, elsewhere["id"], item["id"]).status_code == 201  # owner of home, editor (owner) there

    # An editor of the home case may unlink it and link it back: it never leaves the case.
    add_member(alice, home["id"], bob, "editor")
    exhibit = item["exhibit"]["id"]
    assert bob.delete(f"/api/v1/cases/{home['id']}/exhibits/{exhibit}").status_code == 204
    assert link(bob, home["id"], item["id"]).status_code == 201

    # An owner of the home case who is only a viewer where it would go may not put it there.
    target = bob.make_case(title="Bob's")
    add_member(bob, target["id"], alice, "viewer")
    assert link(alice, target["id"], item["id"]).status_code == 403


def test_only_editors_of_its_home_case_change_shared_evidence(alice, bob):
    """Metadata is shared by every case an item is in; an editor of another case annotates his exhibit."""
    home, other = alice.make_case(title="Home"), alice.make_case(title="Other")
    item = alice.upload(home["id"], b"metadata shared by two cases " + uuid.uuid4().bytes, title="Original").json()
    exhibit = link(alice, other["id"], item["id"]).json()
    add_member(alice, other["id"], bob, "editor")

    assert bob.get(f"/api/v1/evidence/{item['id']}").status_code == 200
    r = bob.patch(f"/api/v1/evidence/{item['id']}", json={"title": "Renamed from the other case"})
    assert r.status_code == 403, r.text
    assert "editor role in the case it was uploaded into" in r.json()["detail"]
    r = bob.patch(f"/api/v1/cases/{other['id']}/exhibits/{exhibit['id']}", json={"note": "Our reading of it"})
    assert r.status_code == 200, r.text
    assert alice.patch(f"/api/v1/evidence/{item['id']}", json={"title": "Renamed at home"}).status_code == 200
    assert bob.get(f"/api/v1/evidence/{item['id']}").json()["title"] == "Renamed at home"


def shared_and_cited(alice, bob) -> tuple[dict, dict, dict, dict]:
    """Alice's item linked (by her, its home's owner) into Bob's case, where Bob's manual event cites it."""
    home = alice.make_case(title="Alice's home case")
    item = alice.upload(home["id"], b"cited across cases " + uuid.uuid4().bytes, title="Chat log").json()
    theirs = bob.make_case(title="Bob's case")
    add_member(bob, theirs["id"], alice, "editor")
    exhibit = link(alice, theirs["id"], item["id"])
    assert exhibit.status_code == 201, exhibit.text
    event = bob.post(
        f"/api/v1/cases/{theirs['id']}/events",
        json={"occurred_at": "2021-03-04", "title": "Seller offers a refund", "evidence_id": item["id"], "page": 1},
    )
    assert event.status_code == 201, event.text
    return theirs, item, exhibit.json(), event.json()


def test_an_exhibit_a_manual_event_cites_cannot_be_unlinked(alice, bob):
    theirs, item, exhibit, event = shared_and_cited(alice, bob)
    r = bob.delete(f"/api/v1/cases/{theirs['id']}/exhibits/{exhibit['id']}")
    assert r.status_code == 409, r.text
    assert "Seller offers a refund" in r.json()["detail"] and event["id"] in r.json()["detail"]
    # Without the citation, it goes.
    r = bob.patch(f"/api/v1/cases/{theirs['id']}/events/{event['id']}", json={"evidence_id": None, "page": None})
    assert r.status_code == 200, r.text
    assert bob.delete(f"/api/v1/cases/{theirs['id']}/exhibits/{exhibit['id']}").status_code == 204
    assert bob.get(f"/api/v1/evidence/{item['id']}/content").status_code == 404


def test_the_export_holds_exactly_the_evidence_the_case_can_read(alice, bob, tmp_path):
    """A citation left behind by an unlink made before the rule: the export drops it, and the item with it."""
    theirs, item, exhibit, event = shared_and_cited(alice, bob)
    with session_scope() as session:  # as such a case was left before unlinking checked for citations
        session.delete(session.exec(select(Exhibit).where(Exhibit.id == uuid.UUID(exhibit["id"]))).one())
    assert bob.get(f"/api/v1/evidence/{item['id']}/content").status_code == 404

    r = bob.get(f"/api/v1/cases/{theirs['id']}/export")
    assert r.status_code == 200, r.text
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        names = zf.namelist()
    assert manifest["evidence"] == [] and manifest["exhibits"] == []
    assert f"evidence/{item['sha256']}" not in names and manifest["files"] == []
    [row] = [e for e in manifest["timeline_events"] if e["id"] == event["id"]]
    assert (row["evidence_id"], row["page"], row["title"]) == (None, None, "Seller offers a refund")
    path = tmp_path / "case.zip"
    path.write_bytes(r.content)
    case_import.check(path, again=True)  # what it exports, an import takes whole
