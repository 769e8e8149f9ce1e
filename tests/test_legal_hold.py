"""Legal hold, soft delete and the admin purge, through real HTTP, the real store on disk and the real CLI.

A hold stops every destructive path (unlink, evidence delete, timeline event delete, purge) with a 409 and
a durable delete.refused event; outside a hold, a delete is soft and needs a reason, and only an admin purge
removes originals, never one a hold or a live item still needs.
"""

import uuid

import pytest
from sqlmodel import select

from api.db import make_engine, session_scope
from api.deps import get_blob_store
from api.services import purge as purge_service
from models.audit import AuditEvent
from models.search import SearchDocument, SearchSource
from models.text import EvidenceText
from tests.helpers import REASON, add_member, blob, events, hold, row, unique_bytes
from tests.s3_server import local_disk_only
from tests.server_process import serving


def upload(actor, case_id: str, content: bytes) -> dict:
    r = actor.upload(case_id, content)
    assert r.status_code == 201, r.text
    return r.json()


def unlink(actor, item: dict):
    return actor.delete(f"/api/v1/cases/{item['case_id']}/exhibits/{item['exhibit']['id']}")


def soft_delete(actor, item: dict, reason: str = "uploaded into the wrong case"):
    return actor.delete(f"/api/v1/evidence/{item['id']}", params={"reason": reason})


def purge(admin, **params) -> dict:
    r = admin.post("/api/v1/admin/purge", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def by_id(entries: list[dict]) -> dict[str, dict]:
    return {e["evidence_id"]: e for e in entries}


def test_owners_set_and_release_a_hold(alice, make_user, bob):
    case = alice.make_case(title="Acme Audio v. Hold")
    editor = make_user()
    add_member(alice, case["id"], editor, "editor")
    url = f"/api/v1/cases/{case['id']}/legal-hold"
    assert alice.get(f"/api/v1/cases/{case['id']}").json()["legal_hold"] is None

    assert editor.post(url, json={"reason": REASON}).status_code == 403
    outsider = bob.post(url, json={"reason": REASON})
    ghost = bob.post(f"/api/v1/cases/{uuid.uuid4()}/legal-hold", json={"reason": REASON})
    assert (outsider.status_code, outsider.json()) == (404, ghost.json())
    for bad in ({}, {"reason": ""}, {"reason": "   \n"}, {"reason": "x" * 2001}, {"reason": "a\x00b"}):
        assert alice.post(url, json=bad).status_code == 422, bad
    assert alice.get(f"/api/v1/cases/{case['id']}").json()["legal_hold"] is None  # nothing half-written

    me = alice.get("/api/v1/auth/me").json()
    r = alice.post(url, json={"reason": f"  {REASON}  "})
    assert r.status_code == 200, r.text
    state = r.json()
    assert (state["case_id"], state["on_hold"], state["reason"], state["set_by"]) == (
        case["id"],
        True,
        REASON,
        me["id"],
    )
    shown = alice.get(f"/api/v1/cases/{case['id']}").json()["legal_hold"]
    assert shown == {"reason": REASON, "set_at": state["set_at"], "set_by": me["id"]}
    listed = next(c for c in alice.get("/api/v1/cases").json()["items"] if c["id"] == case["id"])
    assert listed["legal_hold"]["reason"] == REASON
    assert editor.get(f"/api/v1/cases/{case['id']}").json()["legal_hold"]["reason"] == REASON

    again = alice.post(url, json={"reason": "another reason"})
    assert again.status_code == 409 and REASON in again.json()["detail"]
    assert alice.get(f"/api/v1/cases/{case['id']}").json()["legal_hold"]["reason"] == REASON

    assert editor.delete(url).status_code == 403
    assert bob.delete(url).status_code == 404
    released = alice.delete(url)
    assert released.status_code == 200, released.text
    assert released.json() == {"case_id": case["id"], "on_hold": False, "reason": None, "set_at": None, "set_by": None}
    assert alice.get(f"/api/v1/cases/{case['id']}").json()["legal_hold"] is None
    assert alice.delete(url).status_code == 409

    (set_event,) = events("hold.set", case_id=uuid.UUID(case["id"]))
    assert set_event.details == {"reason": REASON} and set_event.actor_email == alice.email
    (release_event,) = events("hold.release", case_id=uuid.UUID(case["id"]))
    assert release_event.details["reason"] == REASON and release_event.details["set_by"] == me["id"]


def test_under_hold_nothing_linked_can_be_deleted_unlinked_or_purged(alice, make_user, blob_root):
    case = alice.make_case(title="Acme Audio v. Held Seller")
    editor = make_user()
    add_member(alice, case["id"], editor, "editor")
    kept = upload(alice, case["id"], unique_bytes("screenshot"))
    event = alice.post(
        f"/api/v1/cases/{case['id']}/events",
        json={"occurred_at": "2021-03-04", "title": "Seller offers a refund for a review"},
    )
    assert event.status_code == 201, event.text
    event = event.json()
    # Deleted before the hold: its original must survive every purge while the hold lasts.
    deleted = upload(alice, case["id"], unique_bytes("insert card"))
    assert unlink(alice, deleted).status_code == 204
    assert soft_delete(alice, deleted).status_code == 204
    assert hold(alice, case["id"]).status_code == 200
    case_uuid = uuid.UUID(case["id"])

    r = unlink(editor, kept)
    assert r.status_code == 409
    assert "Acme Audio v. Held Seller" in r.json()["detail"] and REASON in r.json()["detail"]
    assert kept["exhibit"]["label"] in r.json()["detail"]
    exhibits = alice.get(f"/api/v1/cases/{case['id']}/exhibits").json()["items"]
    assert [e["id"] for e in exhibits] == [kept["exhibit"]["id"]]
    (refused,) = events("delete.refused", case_id=case_uuid, actor_email=editor.email)
    assert refused.details["attempted"] == "exhibit.unlink"
    assert refused.details["why"] == "legal hold" and refused.details["hold"]["reason"] == REASON
    assert refused.details["exhibit_id"] == kept["exhibit"]["id"]

    r = soft_delete(alice, kept)
    assert r.status_code == 409 and REASON in r.json()["detail"]
    assert row(kept["id"]).deleted_at is None
    r = alice.delete(f"/api/v1/cases/{case['id']}/events/{event['id']}")
    assert r.status_code == 409 and REASON in r.json()["detail"]
    assert alice.get(f"/api/v1/cases/{case['id']}/events/{event['id']}").status_code == 200
    attempts = [e.details["attempted"] for e in events("delete.refused", case_id=case_uuid, actor_email=alice.email)]
    assert attempts == ["evidence.delete", "event.delete"]

    # Editing metadata and relabelling destroy nothing: they stay allowed, and audited.
    assert alice.patch(f"/api/v1/evidence/{kept['id']}", json={"title": "Screenshot (re-described)"}).status_code == 200
    relabel = {"label": "PX-100"}
    assert alice.patch(f"/api/v1/cases/{case['id']}/exhibits/{kept['exhibit']['id']}", json=relabel).status_code == 200

    # Administrators included: the purge skips the held item, over HTTP.
    admin = make_user(admin=True)
    report = purge(admin)
    assert deleted["id"] not in by_id(report["purged"])
    skipped = by_id(report["skipped"])[deleted["id"]]
    assert skipped["hold_case_id"] == case["id"] and skipped["hold_reason"] == REASON
    assert blob(blob_root, deleted["sha256"]).is_file()
    assert row(deleted["id"]).purged_at is None
    refusals = events("delete.refused", evidence_id=uuid.UUID(deleted["id"]), actor_email=admin.email)
    assert [e.details["attempted"] for e in refusals] == ["evidence.purge"]

    # Released: the same paths work again.
    assert alice.delete(f"/api/v1/cases/{case['id']}/legal-hold").status_code == 200
    assert alice.delete(f"/api/v1/cases/{case['id']}/events/{event['id']}").status_code == 204
    assert unlink(editor, kept).status_code == 204
    assert soft_delete(editor, kept).status_code == 204
    report = purge(admin)
    assert {deleted["id"], kept["id"]} <= set(by_id(report["purged"]))
    assert not blob(blob_root, deleted["sha256"]).exists() and not blob(blob_root, kept["sha256"]).exists()


def test_a_hold_on_any_case_the_evidence_is_linked_into_protects_it(alice, make_user):
    own = alice.make_case(title="Acme Audio v. Origin")
    other = alice.make_case(title="Acme Audio v. Related Seller")
    item = upload(alice, own["id"], unique_bytes("chat log"))
    linked = alice.post(f"/api/v1/cases/{other['id']}/exhibits", json={"evidence_id": item["id"]})
    assert linked.status_code == 201, linked.text
    assert hold(alice, other["id"]).status_code == 200

    # The hold is on the other case: unlinking from the unheld one destroys nothing there and is allowed.
    assert unlink(alice, item).status_code == 204
    r = soft_delete(alice, item)
    assert r.status_code == 409 and "Acme Audio v. Related Seller" in r.json()["detail"]
    (refused,) = events("delete.refused", evidence_id=uuid.UUID(item["id"]))
    assert refused.case_id == uuid.UUID(other["id"]) and refused.details["attempted"] == "evidence.delete"

    # Someone who cannot see the holding case is told that a hold applies, not which case or why.
    stranger_owner = make_user()
    third = stranger_owner.make_case(title="Secret Matter")
    add_member(alice, own["id"], stranger_owner, "owner")  # only owners of its case take evidence elsewhere
    theirs = stranger_owner.post(f"/api/v1/cases/{third['id']}/exhibits", json={"evidence_id": item["id"]})
    assert theirs.status_code == 201, theirs.text
    demoted = alice.post(f"/api/v1/cases/{own['id']}/members", json={"email": stranger_owner.email, "role": "viewer"})
    assert demoted.status_code == 200, demoted.text
    assert alice.delete(f"/api/v1/cases/{other['id']}/legal-hold").status_code == 200
    assert hold(stranger_owner, third["id"], reason="Secret preservation order").status_code == 200
    r = soft_delete(alice, item)
    assert r.status_code == 409
    assert "not a member" in r.json()["detail"] and "Secret" not in r.json()["detail"]
    refused = events("delete.refused", evidence_id=uuid.UUID(item["id"]))[-1]
    assert (
        refused.case_id == uuid.UUID(third["id"]) and refused.details["hold"]["reason"] == "Secret preservation order"
    )


def test_soft_delete_needs_a_reason_then_answers_410_and_purge_removes_the_original(alice, make_user, bob, blob_root):
    case = alice.make_case(title="Acme Audio v. Deleted")
    viewer = make_user()
    add_member(alice, case["id"], viewer, "viewer")
    content = unique_bytes("refund record")
    item = upload(alice, case["id"], content)
    cited = alice.post(
        f"/api/v1/cases/{case['id']}/events",
        json={"occurred_at": "2021-05-06", "title": "Refund issued", "evidence_id": item["id"]},
    )
    assert cited.status_code == 201, cited.text
    url = f"/api/v1/evidence/{item['id']}"

    assert soft_delete(viewer, item).status_code == 403
    assert soft_delete(bob, item).status_code == 404
    assert alice.delete(url).status_code == 422
    blank = alice.delete(url, params={"reason": "   "})
    assert blank.status_code == 422 and "reason" in blank.json()["detail"]
    r = soft_delete(alice, item)
    assert r.status_code == 409
    assert item["exhibit"]["label"] in r.json()["detail"] and "Refund issued" in r.json()["detail"]

    assert unlink(alice, item).status_code == 204
    clear = alice.patch(f"/api/v1/cases/{case['id']}/events/{cited.json()['id']}", json={"evidence_id": None})
    assert clear.status_code == 200, clear.text
    assert soft_delete(alice, item, reason="Duplicate of PX-009, uploaded by mistake").status_code == 204

    stored = row(item["id"])
    assert stored.deleted_at is not None and stored.deleted_reason == "Duplicate of PX-009, uploaded by mistake"
    (deleted_event,) = events("evidence.delete", evidence_id=uuid.UUID(item["id"]))
    assert deleted_event.details["reason"] == "Duplicate of PX-009, uploaded by mistake"
    assert deleted_event.actor_email == alice.email
    for answer in (alice.get(url), viewer.get(f"{url}/content"), alice.patch(url, json={"title": "x"})):
        assert answer.status_code == 410, answer.text
        assert "Duplicate of PX-009" in answer.json()["detail"] and alice.email in answer.json()["detail"]
    assert soft_delete(alice, item).status_code == 410
    assert bob.get(url).status_code == 404  # non-members still learn nothing
    elsewhere = alice.make_case()
    assert alice.post(f"/api/v1/cases/{elsewhere['id']}/exhibits", json={"evidence_id": item["id"]}).status_code == 410
    recite = alice.post(
        f"/api/v1/cases/{case['id']}/events",
        json={"occurred_at": "2021-05-06", "title": "Refund", "evidence_id": item["id"]},
    )
    assert recite.status_code == 422
    path = blob(blob_root, item["sha256"])
    assert path.read_bytes() == content  # a soft delete keeps the original

    admin = make_user(admin=True)
    dry = purge(admin, dry_run=True)
    assert dry["dry_run"] and by_id(dry["purged"])[item["id"]]["blob_removed"] is True
    assert path.is_file() and row(item["id"]).purged_at is None
    assert events("evidence.purge", evidence_id=uuid.UUID(item["id"])) == []

    report = purge(admin)
    entry = by_id(report["purged"])[item["id"]]
    assert entry["blob_removed"] is True and entry["deleted_reason"] == "Duplicate of PX-009, uploaded by mistake"
    assert item["sha256"] in report["blobs_removed"] and report["bytes_freed"] >= len(content)
    assert not path.exists()
    assert row(item["id"]).purged_at is not None
    (purge_event,) = events("evidence.purge", evidence_id=uuid.UUID(item["id"]))
    assert purge_event.actor_email == admin.email and purge_event.details["blob_removed"] is True
    again = purge(admin)
    assert item["id"] not in by_id(again["purged"]) and item["sha256"] not in again["blobs_removed"]
    gone = alice.get(url)
    assert gone.status_code == 410 and "purged" in gone.json()["detail"]

    # Uploading the same bytes into the case restores the item: same id and history, a new label, the original back.
    restored = alice.upload(case["id"], content)
    assert restored.status_code == 201, restored.text
    assert restored.json()["id"] == item["id"] and restored.json()["exhibit"]["label"] == "PX-002"
    assert alice.get(url).status_code == 200
    assert alice.get(f"{url}/content").content == content and path.read_bytes() == content
    back = row(item["id"])
    assert (back.deleted_at, back.deleted_reason, back.purged_at) == (None, None, None)
    (restore_event,) = events("evidence.restore", evidence_id=uuid.UUID(item["id"]))
    assert restore_event.details["previous"]["deleted_reason"] == "Duplicate of PX-009, uploaded by mistake"


def test_a_blob_another_live_item_uses_stays(alice, make_user, blob_root):
    content = unique_bytes("listing snapshot")
    first = upload(alice, alice.make_case(title="Case one")["id"], content)
    second = upload(alice, alice.make_case(title="Case two")["id"], content)
    assert first["id"] != second["id"] and first["sha256"] == second["sha256"]
    assert unlink(alice, first).status_code == 204
    assert soft_delete(alice, first).status_code == 204

    admin = make_user(admin=True)
    report = purge(admin)
    assert by_id(report["purged"])[first["id"]]["blob_removed"] is False
    assert first["sha256"] not in report["blobs_removed"]
    assert blob(blob_root, first["sha256"]).read_bytes() == content
    assert row(first["id"]).purged_at is not None
    assert alice.get(f"/api/v1/evidence/{second['id']}/content").content == content

    # Once the last user of the bytes is purged too, they go.
    assert unlink(alice, second).status_code == 204
    assert soft_delete(alice, second).status_code == 204
    report = purge(admin)
    assert by_id(report["purged"])[second["id"]]["blob_removed"] is True
    assert not blob(blob_root, first["sha256"]).exists()


def test_only_admins_purge(alice):
    assert alice.post("/api/v1/admin/purge").status_code == 403


def test_a_purge_that_rolls_back_removes_no_blob(alice, blob_root):
    item = upload(alice, alice.make_case()["id"], unique_bytes("email"))
    assert unlink(alice, item).status_code == 204
    assert soft_delete(alice, item).status_code == 204

    class Abort(Exception):
        pass

    with pytest.raises(Abort), session_scope() as session:
        report = purge_service.purge(session, get_blob_store(), actor_email="test", dry_run=False)
        assert item["sha256"] in report.blobs_removed
        raise Abort
    assert blob(blob_root, item["sha256"]).is_file()
    assert row(item["id"]).purged_at is None
    assert events("evidence.purge", evidence_id=uuid.UUID(item["id"])) == []

    with session_scope() as session:
        purge_service.purge(session, get_blob_store(), actor_email="test", dry_run=False)
    assert not blob(blob_root, item["sha256"]).exists()
    assert row(item["id"]).purged_at is not None


@pytest.fixture
def instance(tmp_path):
    with serving(tmp_path) as server:
        yield server


@local_disk_only
def test_the_purge_command_skips_held_items_and_verify_stays_clean(instance):
    with instance.client() as http:

        def deleted_item(case_id: str, content: bytes) -> dict:
            r = http.post(
                f"/api/v1/cases/{case_id}/evidence",
                files={"file": ("record.txt", content)},
                data={"kind": "other", "title": "Record"},
            )
            assert r.status_code == 201, r.text
            item = r.json()
            assert http.delete(f"/api/v1/cases/{case_id}/exhibits/{item['exhibit']['id']}").status_code == 204
            assert http.delete(f"/api/v1/evidence/{item['id']}", params={"reason": "wrong file"}).status_code == 204
            return item

        held_case = http.post("/api/v1/cases", json={"title": "Held v. Seller", "case_type": "lanham_act"}).json()
        free_case = http.post("/api/v1/cases", json={"title": "Free v. Seller", "case_type": "lanham_act"}).json()
        held = deleted_item(held_case["id"], unique_bytes("held"))
        free = deleted_item(free_case["id"], unique_bytes("free"))
        live = http.post(
            f"/api/v1/cases/{free_case['id']}/evidence",
            files={"file": ("live.txt", unique_bytes("live"))},
            data={"kind": "other", "title": "Live"},
        ).json()
        assert http.post(f"/api/v1/cases/{held_case['id']}/legal-hold", json={"reason": REASON}).status_code == 200

        dry = instance.cli("purge", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert f"PURGED   evidence {free['id']}" in dry.stdout and f"SKIPPED  evidence {held['id']}" in dry.stdout
        assert dry.stdout.rstrip().splitlines()[-1].startswith("dry run: would purge 1 item(s), skipped 1")
        assert blob(instance.data_dir, free["sha256"]).is_file()

        done = instance.cli("purge")
        assert done.returncode == 0, done.stderr
        assert f"PURGED   evidence {free['id']} (case {free_case['id']})" in done.stdout
        assert "original removed" in done.stdout
        skipped = next(line for line in done.stdout.splitlines() if line.startswith("SKIPPED"))
        assert held["id"] in skipped and "Held v. Seller" in skipped and REASON in skipped
        assert not blob(instance.data_dir, free["sha256"]).exists()
        assert blob(instance.data_dir, held["sha256"]).is_file()
        assert blob(instance.data_dir, live["sha256"]).is_file()

        verified = instance.cli("verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr

        again = instance.cli("purge")
        assert again.returncode == 0 and f"evidence {free['id']}" not in again.stdout
        assert f"SKIPPED  evidence {held['id']}" in again.stdout

        engine = make_engine(instance.database_url)
        try:
            with engine.connect() as conn:
                refusals = conn.execute(
                    select(AuditEvent.actor_email, AuditEvent.details).where(
                        AuditEvent.action == "delete.refused", AuditEvent.evidence_id == uuid.UUID(held["id"])
                    )
                ).all()
        finally:
            engine.dispose()
        assert [(email, d["attempted"]) for email, d in refusals] == [("command line", "evidence.purge")] * 2
        with engine.connect() as conn:  # what was read from a purged original goes with it; a live item keeps its
            texts = conn.execute(select(EvidenceText.id)).scalars().all()
            found = (
                conn.execute(select(SearchDocument.evidence_id).where(SearchDocument.source == SearchSource.text))
                .scalars()
                .all()
            )
        engine.dispose()
        assert uuid.UUID(free["id"]) not in texts and uuid.UUID(live["id"]) in texts
        assert uuid.UUID(free["id"]) not in found

        assert http.delete(f"/api/v1/cases/{held_case['id']}/legal-hold").status_code == 200
        last = instance.cli("purge")
        assert last.returncode == 0 and f"PURGED   evidence {held['id']}" in last.stdout
        assert not blob(instance.data_dir, held["sha256"]).exists()
        verified = instance.cli("verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
