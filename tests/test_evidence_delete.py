"""Deleting a wrong upload: one call unlinks the item's own exhibits and soft-deletes it, audited as such; a built
bundle, a manual timeline event, an exhibit the caller cannot unlink or a legal hold still refuse it, changing
nothing."""

import uuid

from tests.helpers import add_member, build, events, hold, row, unique_bytes

REASON = "uploaded into the wrong case"


def upload(actor, case_id: str, **fields) -> dict:
    r = actor.upload(case_id, unique_bytes("wrong upload"), filename="wrong.txt", title="Wrong upload", **fields)
    assert r.status_code == 201, r.text
    return r.json()


def delete(actor, item: dict):
    return actor.delete(f"/api/v1/evidence/{item['id']}", params={"reason": REASON})


def exhibit_ids(actor, case: dict) -> list[str]:
    return [e["id"] for e in actor.get(f"/api/v1/cases/{case['id']}/exhibits").json()["items"]]


def timeline_titles(actor, case: dict) -> list[str]:
    r = actor.get(f"/api/v1/cases/{case['id']}/timeline")
    assert r.status_code == 200, r.text
    return [e["title"] for e in r.json()["items"]]


def test_a_fresh_upload_is_unlinked_and_deleted_in_one_call(alice):
    case = alice.make_case(title="Acme v. Wrong Upload")
    other = alice.make_case(title="FTC referral")
    item = upload(alice, case["id"], occurred_at="2021-03-04T10:00:00Z")
    linked = alice.post(f"/api/v1/cases/{other['id']}/exhibits", json={"evidence_id": item["id"]})
    assert linked.status_code == 201, linked.text
    assert "Wrong upload" in timeline_titles(alice, case)  # the derived event of its exhibit

    r = delete(alice, item)
    assert r.status_code == 204, r.text
    assert alice.get(f"/api/v1/evidence/{item['id']}").status_code == 410
    assert exhibit_ids(alice, case) == [] and exhibit_ids(alice, other) == []
    assert "Wrong upload" not in timeline_titles(alice, case)
    assert row(item["id"]).deleted_reason == REASON

    unlinked = events("exhibit.unlink", evidence_id=uuid.UUID(item["id"]))
    assert {e.object_id for e in unlinked} == {item["exhibit"]["id"], linked.json()["id"]}
    for event in unlinked:
        assert event.actor_email == alice.email and event.details["unlinked_by"] == "evidence.delete"
        assert event.details["reason"] == REASON
    (deleted,) = events("evidence.delete", evidence_id=uuid.UUID(item["id"]))
    assert deleted.details["reason"] == REASON
    assert {(u["case_id"], u["label"]) for u in deleted.details["unlinked"]} == {
        (case["id"], item["exhibit"]["label"]),
        (other["id"], linked.json()["label"]),
    }
    assert max(e.seq for e in unlinked) < deleted.seq


def test_a_built_bundle_or_a_manual_event_still_refuses_and_nothing_changes(alice):
    case = alice.make_case(title="Acme v. Cited")
    bundled = upload(alice, case["id"])
    bundle = build(alice, case["id"], title="Plaintiff's Exhibits")
    r = delete(alice, bundled)
    assert r.status_code == 409
    assert "Plaintiff's Exhibits" in r.json()["detail"] and bundle["id"] in r.json()["detail"]
    assert exhibit_ids(alice, case) == [bundled["exhibit"]["id"]] and row(bundled["id"]).deleted_at is None
    assert f"unlink exhibit {bundled['exhibit']['label']}" in r.json()["detail"]

    cited = upload(alice, case["id"])
    event = alice.post(
        f"/api/v1/cases/{case['id']}/events",
        json={"occurred_at": "2021-05-06", "title": "Refund issued", "evidence_id": cited["id"]},
    )
    assert event.status_code == 201, event.text
    r = delete(alice, cited)
    assert r.status_code == 409 and "Refund issued" in r.json()["detail"]
    assert cited["exhibit"]["label"] in r.json()["detail"]  # said to be unlinked with it, once nothing else cites it
    assert cited["exhibit"]["id"] in exhibit_ids(alice, case) and row(cited["id"]).deleted_at is None
    for item in (bundled, cited):
        assert events("exhibit.unlink", evidence_id=uuid.UUID(item["id"])) == []
        assert events("evidence.delete", evidence_id=uuid.UUID(item["id"])) == []

    # Unlinked by hand, as a deliberate act, the bundled item can be deleted, as before.
    assert alice.delete(f"/api/v1/cases/{case['id']}/exhibits/{bundled['exhibit']['id']}").status_code == 204
    assert delete(alice, bundled).status_code == 204


def test_an_exhibit_the_caller_cannot_unlink_or_a_hold_refuses(alice, bob):
    case = alice.make_case(title="Acme v. Shared")
    add_member(alice, case["id"], bob, "owner")  # an owner may take the case's evidence into another case
    item = upload(alice, case["id"])
    theirs = bob.make_case(title="Bob's own matter")
    assert bob.post(f"/api/v1/cases/{theirs['id']}/exhibits", json={"evidence_id": item["id"]}).status_code == 201
    r = delete(alice, item)
    assert r.status_code == 409 and "1 in cases you are not a member of" in r.json()["detail"]
    assert "Bob's own matter" not in r.json()["detail"]
    assert exhibit_ids(alice, case) == [item["exhibit"]["id"]]

    other = upload(alice, case["id"])
    assert hold(alice, case["id"]).status_code == 200
    r = delete(alice, other)
    assert r.status_code == 409 and "legal hold" in r.json()["detail"]
    assert other["exhibit"]["id"] in exhibit_ids(alice, case) and row(other["id"]).deleted_at is None
