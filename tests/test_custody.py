"""The chain-of-custody report, built from real requests: acquisition, accesses, changes, links, bundles with
their Bates ranges, the latest integrity check and a live re-hash; as JSON and as a PDF read back."""

import hashlib
import io
import os
import stat
import uuid
from datetime import datetime

import pikepdf
import pytest
from sqlmodel import select

from api.db import session_scope
from api.deps import _local_store
from api.services import audit
from api.services import evidence as evidence_service
from api.services.custody import report as custody_service
from models.evidence import EvidenceItem
from models.user import User
from tests.helpers import build, extract
from tests.s3_server import local_disk_only


@pytest.fixture
def custody_world(alice, corpus):
    """An item uploaded into case A, viewed, downloaded, retitled, linked into case B and bundled in A."""
    case = alice.make_case(
        title="Acme Audio LLC v. Mpow Direct",
        bates_prefix="CUST",
        court="United States District Court, Central District of California",
        docket_number="2:21-cv-04417",
        timezone="America/Los_Angeles",
    )
    f = next(f for f in corpus if f.path.suffix == ".pdf")
    content = f.path.read_bytes()
    r = alice.upload(case["id"], content, filename=f.path.name, kind=f.kind, title=f.title)
    assert r.status_code == 201, r.text
    item = r.json()
    base = f"/api/v1/evidence/{item['id']}"
    assert alice.get(base).status_code == 200
    assert alice.get(f"{base}/content").content == content
    assert alice.patch(base, json={"title": "Refund receipt, order 113-4471"}).status_code == 200
    second = alice.make_case(title="FTC referral", docket_number="FTC-2021-07")
    linked = alice.post(f"/api/v1/cases/{second['id']}/exhibits", json={"evidence_id": item["id"]})
    assert linked.status_code == 201, linked.text
    bundle = build(alice, case["id"], title="Plaintiff's Exhibits")
    return {"case": case, "second": second, "item": item, "file": f, "content": content, "bundle": bundle}


def custody(actor, item_id: str, **params) -> dict:
    r = actor.get(f"/api/v1/evidence/{item_id}/custody", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def custody_pdf(actor, item_id: str, **params) -> bytes:
    r = actor.get(f"/api/v1/evidence/{item_id}/custody.pdf", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    with pikepdf.open(io.BytesIO(r.content)) as pdf:
        assert len(pdf.pages) >= 1
    return r.content


def test_report_has_acquisition_events_bundles_and_a_live_hash_check(alice, custody_world):
    w = custody_world
    item, case, second = w["item"], w["case"], w["second"]
    report = custody(alice, item["id"])

    assert report["generated_by"] == alice.email
    assert report["case"]["id"] == case["id"]  # captioned in the case it was uploaded into
    assert {c["id"] for c in report["cases"]} == {case["id"], second["id"]}
    assert report["item"]["sha256"] == item["sha256"] and report["item"]["title"] == "Refund receipt, order 113-4471"

    acq = report["acquisition"]
    assert acq["source"] == "audit" and acq["matches_record"] is True
    assert (acq["sha256"], acq["size_bytes"]) == (hashlib.sha256(w["content"]).hexdigest(), len(w["content"]))
    assert acq["original_filename"] == w["file"].path.name and acq["media_type"] == "application/pdf"
    assert acq["uploader_email"] == alice.email and acq["ip"]

    events = report["events"]
    assert [e["action"] for e in events] == [
        "evidence.upload",
        "exhibit.link",
        "evidence.view",
        "evidence.download",
        "evidence.update",
        "exhibit.link",
    ]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert events[0]["seq"] == acq["event_seq"]
    update = events[4]
    assert update["details"] == {
        "before": {"title": w["file"].title},
        "after": {"title": "Refund receipt, order 113-4471"},
    }
    assert update["summary"] == f"title: '{w['file'].title}' → 'Refund receipt, order 113-4471'"
    assert update["action_label"] == "Metadata changed"
    assert events[5]["case_id"] == second["id"]
    assert all(e["actor_email"] == alice.email for e in events)
    # Each event's hash recomputes from what the report shows of it.
    for e in events:
        row = e | {"at": datetime.fromisoformat(e["at"])}
        assert audit.chain_hash(e["prev_hash"], row) == e["hash"] and e["hash_ok"]
    assert (report["chain"]["events"], report["chain"]["hashes_ok"]) == (6, True)

    [placed] = report["bundles"]
    bundle = w["bundle"]
    [listed] = [x for x in bundle["exhibits"] if x["evidence_id"] == item["id"]]
    assert (placed["bates_first"], placed["bates_last"]) == (listed["bates_first"], listed["bates_last"])
    assert placed["bates_first"].startswith("CUST") and placed["label"] == listed["label"] == item["exhibit"]["label"]
    assert placed["bundle_id"] == bundle["id"] and placed["bundle_sha256"] == bundle["sha256"]
    assert placed["status"] == "done" and placed["sha256_matches"] is True

    check = report["current_check"]
    assert check["status"] == "match" and check["match"] and check["actual_sha256"] == item["sha256"]
    labels = {(x["case_id"], x["label"]) for x in report["exhibits"]}
    assert (case["id"], item["exhibit"]["label"]) in labels and len(labels) == 2

    # Fetching the report was itself an access: it shows in the next one.
    again = custody(alice, item["id"])
    assert [e["action"] for e in again["events"]][6:] == ["evidence.custody"]
    assert again["events"][6]["details"] == {"format": "json", "hash_check": "match"}
    # The anchor is the trail's newest event as the report was made: the one its own record was chained to.
    produced = again["events"][6]
    assert report["chain"]["anchor"] == f"{produced['seq'] - 1}:{produced['prev_hash']}"


def test_pdf_shows_hash_filename_bates_range_and_records_its_own_digest(alice, custody_world):
    w = custody_world
    item = w["item"]
    pdf = custody_pdf(alice, item["id"])
    text = "\n".join(extract(pdf))
    flat = " ".join(text.split())
    assert "CHAIN OF CUSTODY REPORT" in flat  # headings are set in capitals
    assert "2:21-cv-04417" in flat and "CENTRAL DISTRICT OF CALIFORNIA" in flat
    assert item["sha256"] in text.replace("\n", "")  # a long monospace hash may wrap
    assert w["file"].path.name in flat
    [listed] = [x for x in w["bundle"]["exhibits"] if x["evidence_id"] == item["id"]]
    assert f"{listed['bates_first']} to {listed['bates_last']}" in flat
    assert "Metadata changed" in flat and "Refund receipt, order 113-4471" in flat
    assert "MATCH" in flat and "Page 1 of" in flat

    last = custody(alice, item["id"])["events"][-1]
    assert last["action"] == "evidence.custody"
    assert last["details"] == {"format": "pdf", "hash_check": "match", "sha256": hashlib.sha256(pdf).hexdigest()}
    assert f"the audit trail ended at event {last['seq'] - 1}, with hash" in flat
    assert last["prev_hash"] in text.replace("\n", "")  # the anchor printed is what its own record chains to


def test_user_strings_are_text_in_the_pdf_never_markup(alice):
    case = alice.make_case(title="<i>Acme</i> & Sons v. Mpow", docket_number="<b>1:21</b>")
    name = "<script>alert(1)</script>.txt"
    r = alice.upload(case["id"], b"hostile name " + uuid.uuid4().bytes, filename=name, title="<img src=x> receipt")
    assert r.status_code == 201, r.text
    item = r.json()
    assert custody(alice, item["id"])["acquisition"]["original_filename"] == name
    flat = " ".join("\n".join(extract(custody_pdf(alice, item["id"]))).split())
    assert name in flat and "<img src=x> receipt" in flat
    assert "<i>Acme</i> & Sons v. Mpow" in flat and "Case No. <b>1:21</b>" in flat


def test_access_non_member_404_viewer_reads_member_of_other_case_sees_only_its_part(alice, make_user, custody_world):
    w = custody_world
    item, case, second = w["item"], w["case"], w["second"]
    stranger, viewer, other = make_user(), make_user(), make_user()
    for path in ("custody", "custody.pdf"):
        r = stranger.get(f"/api/v1/evidence/{item['id']}/{path}")
        assert (r.status_code, r.json()) == (404, {"detail": "evidence not found"})
        assert stranger.get(f"/api/v1/evidence/{uuid.uuid4()}/{path}").json() == r.json()

    assert alice.post(f"/api/v1/cases/{case['id']}/members", json={"email": viewer.email, "role": "viewer"}).is_success
    seen = custody(viewer, item["id"])
    assert seen["generated_by"] == viewer.email and len(seen["bundles"]) == 1
    assert custody_pdf(viewer, item["id"])[:5] == b"%PDF-"

    # A member of case B only: the item's own record, case B's link; nothing of case A's exhibit or bundle.
    assert alice.post(f"/api/v1/cases/{second['id']}/members", json={"email": other.email, "role": "viewer"}).is_success
    partial = custody(other, item["id"])
    assert partial["case"]["id"] == second["id"] and [c["id"] for c in partial["cases"]] == [second["id"]]
    actions = [(e["action"], e["case_id"]) for e in partial["events"]]
    assert ("exhibit.link", case["id"]) not in actions and ("exhibit.link", second["id"]) in actions
    assert partial["acquisition"]["sha256"] == item["sha256"]  # the item's own custody is shown to all its readers
    assert partial["bundles"] == [] and [x["case_id"] for x in partial["exhibits"]] == [second["id"]]

    # The caption case may be chosen among the reader's cases that hold the item.
    assert custody(alice, item["id"], case_id=second["id"])["case"]["id"] == second["id"]
    r = other.get(f"/api/v1/evidence/{item['id']}/custody", params={"case_id": case["id"]})
    assert (r.status_code, r.json()) == (404, {"detail": "case not found"})
    unrelated = alice.make_case(title="Unrelated")
    r = alice.get(f"/api/v1/evidence/{item['id']}/custody", params={"case_id": unrelated["id"]})
    assert r.status_code == 422 and "not in that case" in r.json()["detail"]


@local_disk_only
def test_latest_verification_and_a_changed_original_on_disk(alice, make_user, settings):
    admin = make_user(admin=True)
    case = alice.make_case(title="Integrity")
    content = b"original bytes " + uuid.uuid4().bytes
    item = alice.upload(case["id"], content, filename="receipt.txt", title="Receipt").json()

    run = admin.post("/api/v1/admin/verify")
    assert run.status_code == 200, run.text
    verified = custody(alice, item["id"])["verification"]
    assert verified["covered"] is True and verified["ok_for_this_item"] is True
    assert verified["run_ok"] is run.json()["ok"]

    later = alice.upload(case["id"], b"later bytes " + uuid.uuid4().bytes, filename="later.txt", title="Later").json()
    not_covered = custody(alice, later["id"])["verification"]
    assert not_covered["seq"] == verified["seq"] and not_covered["covered"] is False
    assert not_covered["ok_for_this_item"] is None

    # The report re-hashes the stored original each time: a changed file on disk shows at once.
    path = _local_store().path_for(item["sha256"])
    mode = stat.S_IMODE(os.stat(path).st_mode)
    os.chmod(path, 0o640)
    try:
        path.write_bytes(b"tampered " + content)
        check = custody(alice, item["id"])["current_check"]
        assert check["status"] == "mismatch" and check["match"] is False
        assert check["actual_sha256"] == hashlib.sha256(b"tampered " + content).hexdigest()
        flat = " ".join("\n".join(extract(custody_pdf(alice, item["id"]))).split())
        assert "MISMATCH" in flat
    finally:
        path.write_bytes(content)
        os.chmod(path, mode)
    assert custody(alice, item["id"])["current_check"]["status"] == "match"


def test_a_deleted_item_keeps_its_custody_report(alice):
    case = alice.make_case(title="Deletion")
    item = alice.upload(case["id"], b"to delete " + uuid.uuid4().bytes, filename="gone.txt", title="Gone").json()
    unlinked = alice.delete(f"/api/v1/cases/{case['id']}/exhibits/{item['exhibit']['id']}")
    assert unlinked.status_code == 204, unlinked.text
    r = alice.delete(f"/api/v1/evidence/{item['id']}", params={"reason": "uploaded to the wrong <case>"})
    assert r.status_code == 204, r.text
    assert alice.get(f"/api/v1/evidence/{item['id']}").status_code == 410

    report = custody(alice, item["id"])
    assert report["item"]["deleted_at"] and report["item"]["deleted_reason"] == "uploaded to the wrong <case>"
    actions = [e["action"] for e in report["events"]]
    assert actions == ["evidence.upload", "exhibit.link", "exhibit.unlink", "evidence.delete"]
    assert report["events"][-1]["action_label"] == "Deleted"
    assert report["current_check"]["status"] == "match"  # deleted, not purged: the original is still stored
    flat = " ".join("\n".join(extract(custody_pdf(alice, item["id"]))).split())
    assert "Exhibit unlinked" in flat and "uploaded to the wrong <case>" in flat


def test_a_pdf_of_more_events_than_a_court_report_holds_is_refused_before_rendering(alice):
    """Each page of the event table costs the renderer a tenth of a second or more and megabytes of memory: past
    the limit the PDF is refused with a 422 that points to the JSON report, which lists every event."""
    case = alice.make_case(title="Many accesses")
    item = alice.upload(case["id"], b"viewed often " + uuid.uuid4().bytes, filename="often.txt").json()
    with session_scope() as session:
        user = session.exec(select(User).where(User.email == alice.email)).one()
        row = session.get(EvidenceItem, uuid.UUID(item["id"]))
        for _ in range(custody_service.MAX_PDF_EVENTS):  # with the upload and the link, past the limit
            evidence_service.record_access(session, "evidence.view", row, user)
    assert custody_service.MAX_PDF_EVENTS <= 1000  # about 90 pages

    r = alice.get(f"/api/v1/evidence/{item['id']}/custody.pdf")
    assert r.status_code == 422, r.status_code
    assert f"at most {custody_service.MAX_PDF_EVENTS:,} events" in r.json()["detail"]
    assert "/custody" in r.json()["detail"]
    assert len(custody(alice, item["id"])["events"]) == custody_service.MAX_PDF_EVENTS + 2
