"""Redaction through the API: secrets planted in a picture, a text PDF, a scanned PDF, a CSV and an e-mail are
suggested by the detectors and the case's terms, accepted, and burned into derived copies; each copy is read back
with pdftotext, OCR of every page and a search of its raw bytes and streams, and none survives. The originals stay
as they were. A copy that would leak is not released; bad boxes, stale boxes and unreadable files are refused."""

import hashlib
import io
import uuid

import pikepdf
import pytest

from tests.helpers import build, download, events
from tests.redaction_support import (
    CARD,
    EMAIL,
    SSN,
    TERM,
    accept_suggestions,
    apply_redactions,
    csv_file,
    email_file,
    pdf_text,
    picture,
    read_back,
    scanned_pdf,
    survivors,
    text_pdf,
    wait_set,
)
from tests.text_support import wait_text

pytestmark = pytest.mark.slow
PLANTED = {"ssn", "card", "email", "term"}


def _upload(actor, case_id: str, data: bytes, filename: str, kind: str = "other") -> dict:
    r = actor.upload(case_id, data, filename=filename, kind=kind, title=f"Planted {filename}")
    assert r.status_code == 201, r.text
    return wait_text(actor, r.json()["id"])


def _terms(actor, case_id: str) -> None:
    r = actor.request("PUT", f"/api/v1/cases/{case_id}/redaction-terms", json={"terms": [TERM.lower()], "patterns": []})
    assert r.status_code == 200, r.text
    assert r.json()["terms"] == [TERM.lower()]


def _suggest_and_accept(actor, item: dict) -> list[dict]:
    r = actor.post(f"/api/v1/evidence/{item['id']}/redactions/suggest")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert PLANTED <= {s["rule"] for s in items}, [(s["rule"], s["text"]) for s in items]
    for s in items:
        assert s["status"] == "suggested" and s["sha256"] == item["sha256"]
        x0, y0, x1, y1 = s["box"]
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1
    by_rule = {s["rule"]: s for s in items}
    assert by_rule["ssn"]["reason"] == "FRCP 5.2(a)(1)" and by_rule["card"]["reason"] == "FRCP 5.2(a)(4)"
    # Only the last four digits stay: the box covers the rest, and what was found is the whole number.
    assert by_rule["ssn"]["found"].replace(" ", "") == SSN and "8714" not in by_rule["ssn"]["text"]
    assert by_rule["card"]["found"].replace(" ", "") == CARD.replace(" ", "")
    assert not by_rule["card"]["text"].replace(" ", "").endswith("9855")
    again = actor.post(f"/api/v1/evidence/{item['id']}/redactions/suggest").json()
    assert again["added"] == 0 and len(again["items"]) == len(items)  # asking again suggests nothing twice
    for s in items:
        r = actor.request("PATCH", f"/api/v1/evidence/{item['id']}/redactions/{s['id']}", json={"status": "accepted"})
        assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
    return items


def _apply(actor, item: dict) -> dict:
    r = actor.post(f"/api/v1/evidence/{item['id']}/redactions/apply")
    assert r.status_code == 202, r.text
    assert r.headers["location"].endswith(f"/redaction-sets/{r.json()['id']}")
    return wait_set(actor, r.json()["id"])


def _proved_clean(actor, item: dict, done: dict) -> dict:
    assert done["status"] == "done", done["error"]
    assert done["check"]["strings_looked_for"] >= 4 and done["check"]["found"] == []
    derived = actor.get(f"/api/v1/evidence/{done['derived_evidence_id']}").json()
    assert "redacted" in derived["tags"] and item["sha256"] in derived["description"]
    data = actor.get(f"/api/v1/evidence/{derived['id']}/content").content
    read = read_back(data, derived["media_type"])
    assert survivors(read) == [], survivors(read)
    original = actor.get(f"/api/v1/evidence/{item['id']}/content").content
    assert hashlib.sha256(original).hexdigest() == item["sha256"]  # the original is untouched
    return {"derived": derived, "read": read, "data": data}


def test_planted_secrets_in_a_picture_and_a_scanned_pdf_are_burned_in_and_gone(alice, ocr_on):
    case = alice.make_case()
    _terms(alice, case["id"])
    shot = _upload(alice, case["id"], picture(), "review-shot.png", kind="review_screenshot")
    scan = _upload(alice, case["id"], scanned_pdf(), "scan.pdf", kind="refund_record")
    copies = {}
    for item in (shot, scan):
        assert item["text_status"] == "done", item
        _suggest_and_accept(alice, item)
        proved = _proved_clean(alice, item, _apply(alice, item))
        copies[item["id"]] = proved["derived"]["id"]
        # What is not redacted is still there, and searchable in the copy.
        assert "Jane Roe" in proved["read"]["ocr"] and "five stars" in proved["read"]["ocr"]
        assert "9855" in proved["read"]["ocr"]  # the card's last four digits may stay, and do
    assert copies[shot["id"]] != shot["id"] and alice.get(f"/api/v1/evidence/{shot['id']}").json() == shot
    # The originals' custody names what was made of them, and the copies' where they come from.
    for original, copy in copies.items():
        [made] = events("redaction.derived", evidence_id=uuid.UUID(original))
        [came] = events("redaction.derived_from", evidence_id=uuid.UUID(copy))
        assert made.details["derived_evidence_id"] == copy and came.details["original_evidence_id"] == original


def test_planted_secrets_in_a_text_pdf_csv_and_email_are_gone_with_metadata_and_notes(alice, ocr_on):
    case = alice.make_case()
    _terms(alice, case["id"])
    pdf = _upload(alice, case["id"], text_pdf(), "statement.pdf", kind="refund_record")
    sheet = _upload(alice, case["id"], csv_file(), "orders.csv", kind="order_record")
    mail = _upload(alice, case["id"], email_file(), "refund.eml", kind="email")
    for item in (pdf, sheet, mail):
        _suggest_and_accept(alice, item)
        proved = _proved_clean(alice, item, _apply(alice, item))
        assert proved["derived"]["media_type"] == "application/pdf"
        with pikepdf.open(io.BytesIO(proved["data"])) as copy:
            assert "/AcroForm" not in copy.Root and "/Metadata" not in copy.Root and "/Outlines" not in copy.Root
            assert all("/Annots" not in page.obj for page in copy.pages)  # the note on page 2 is gone too
    # The PDF's second page had nothing to redact: it is copied as it was, its own text still there to select.
    text = pdf_text(alice.get(f"/api/v1/evidence/{pdf['id']}/content").content)
    assert "Page two" in text and EMAIL in text  # (the original, for comparison)


def test_a_copy_that_would_leak_is_not_released_and_says_where(alice, bob, ocr_on):
    case = alice.make_case()
    item = _upload(alice, case["id"], text_pdf(), "statement.pdf")
    items = alice.post(f"/api/v1/evidence/{item['id']}/redactions/suggest").json()["items"]
    email = next(s for s in items if s["rule"] == "email")
    r = alice.request("PATCH", f"/api/v1/evidence/{item['id']}/redactions/{email['id']}", json={"status": "accepted"})
    assert r.status_code == 200
    # The SSN and the card are left as suggestions: the copy burns the e-mail only; the document's title named the
    # e-mail address, and the copy carries no title, so it is released.
    before = len(alice.get(f"/api/v1/cases/{case['id']}/exhibits", params={"limit": 200}).json()["items"])
    done = _apply(alice, item)
    assert done["status"] == "done", done["error"]
    # Now a box drawn over nothing, and the e-mail's suggestion rejected: the address is still on page 1.
    r = alice.request(
        "PATCH", f"/api/v1/evidence/{item['id']}/redactions/{email['id']}", json={"status": "rejected", "reason": "x"}
    )
    assert r.status_code == 200
    drawn = alice.post(
        f"/api/v1/evidence/{item['id']}/redactions", json={"page": 1, "box": email["box"], "reason": "Personal data"}
    )
    assert drawn.status_code == 201, drawn.text
    assert drawn.json()["status"] == "accepted" and EMAIL in (drawn.json()["text"] or "")
    dup = alice.post(
        f"/api/v1/evidence/{item['id']}/redactions", json={"page": 1, "box": email["box"], "reason": "again"}
    )
    assert dup.status_code == 409 and drawn.json()["id"] in dup.json()["detail"]
    assert _apply(alice, item)["status"] == "done"
    after = len(alice.get(f"/api/v1/cases/{case['id']}/exhibits", params={"limit": 200}).json()["items"])
    assert after == before + 2

    # The same address again on page 2, its suggestion rejected: the release check reads the copy, finds it there,
    # and nothing is released.
    again = _upload(alice, case["id"], text_pdf(f"Page two: write to {EMAIL}"), "statement-2.pdf")
    items = alice.post(f"/api/v1/evidence/{again['id']}/redactions/suggest").json()["items"]
    for s in (s for s in items if s["rule"] == "email"):
        status = "accepted" if s["page"] == 1 else "rejected"
        r = alice.request("PATCH", f"/api/v1/evidence/{again['id']}/redactions/{s['id']}", json={"status": status})
        assert r.status_code == 200
    bad = _apply(alice, again)
    assert bad["status"] == "failed" and bad["derived_evidence_id"] is None
    assert "page 2" in bad["error"] and "email" in bad["error"] and "Nothing was released" in bad["error"], bad["error"]
    assert {(f["page"], f["rule"]) for f in bad["check"]["found"]} == {(1, "email")}  # the redaction it came from
    assert "page 2" in bad["check"]["found"][0]["where"]
    assert len(alice.get(f"/api/v1/cases/{case['id']}/exhibits", params={"limit": 200}).json()["items"]) == after + 1

    # Bob is no member: nothing of it is his to see or do.
    assert bob.get(f"/api/v1/evidence/{item['id']}/redactions").status_code == 404
    assert bob.post(f"/api/v1/evidence/{item['id']}/redactions/suggest").status_code == 404
    assert bob.get(f"/api/v1/redaction-sets/{bad['id']}").status_code == 404


def test_bad_redactions_are_refused_and_leave_nothing(alice):
    case = alice.make_case()
    item = alice.upload(case["id"], csv_file(), filename="orders.csv", kind="order_record").json()
    url = f"/api/v1/evidence/{item['id']}/redactions"
    for box in ([0.5, 0.1, 0.4, 0.2], [0.1, 0.1, 1.2, 0.2], [-0.1, 0, 0.2, 0.2], [0.1, 0.2, 0.3]):
        r = alice.post(url, json={"page": 1, "box": box, "reason": "Personal data"})
        assert r.status_code == 422, (box, r.text)
    r = alice.post(url, json={"page": 9, "box": [0.1, 0.1, 0.2, 0.2], "reason": "Personal data"})
    assert r.status_code == 422 and "page 9" in r.json()["detail"]
    r = alice.post(f"{url}/apply")
    assert r.status_code == 422 and "no accepted redaction" in r.json()["detail"]
    r = alice.request("PUT", f"/api/v1/cases/{case['id']}/redaction-terms", json={"patterns": ["(unclosed"]})
    assert r.status_code == 422 and "patterns[0]" in r.json()["detail"]
    r = alice.request("PUT", f"/api/v1/cases/{case['id']}/redaction-terms", json={"patterns": ["x*"]})
    assert r.status_code == 422 and "empty" in r.json()["detail"]
    assert alice.get(url).json()["items"] == []

    locked = io.BytesIO()
    with pikepdf.open(io.BytesIO(text_pdf())) as pdf:
        pdf.save(locked, encryption=pikepdf.Encryption(owner="o", user="secret"))
    enc = wait_text(alice, alice.upload(case["id"], locked.getvalue(), filename="locked.pdf").json()["id"])
    r = alice.post(f"/api/v1/evidence/{enc['id']}/redactions/suggest")
    assert r.status_code == 422 and "encrypted" in r.json()["detail"]

    native = alice.upload(case["id"], b"PK\x03\x04" + b"\x00" * 200, filename="sheet.xlsx").json()
    r = alice.post(f"/api/v1/evidence/{native['id']}/redactions/suggest")
    assert r.status_code == 422 and "cannot be redacted" in r.json()["detail"]


def test_a_redaction_on_bytes_that_changed_is_not_applied(alice, blob_root):
    from tests.test_download_integrity import blob_path, damaged

    case = alice.make_case()
    item = alice.upload(case["id"], csv_file(), filename="orders.csv", kind="order_record").json()
    box = alice.post(
        f"/api/v1/evidence/{item['id']}/redactions", json={"page": 1, "box": [0.1, 0.1, 0.5, 0.2], "reason": "PO"}
    )
    assert box.status_code == 201, box.text
    with damaged(blob_path(blob_root, item["sha256"]), csv_file().replace(b"Jane", b"John")):
        done = _apply(alice, item)
    assert done["status"] == "failed" and "SHA-256" in done["error"] and done["derived_evidence_id"] is None


def test_a_filing_copy_bundles_the_redacted_copies_while_the_team_keeps_the_original(alice):
    case = alice.make_case()
    orders = wait_text(alice, alice.upload(case["id"], csv_file(), filename="orders.csv").json()["id"])
    plain = alice.upload(case["id"], b"A note with nothing to redact.\n", filename="note.txt").json()
    accept_suggestions(alice, orders, {"ssn", "card", "email"})
    done = apply_redactions(alice, orders)
    assert done["status"] == "done", done["error"]
    ids = [orders["exhibit"]["id"], plain["exhibit"]["id"]]
    team = build(alice, case["id"], exhibit_ids=ids, bates_prefix="TEAM")
    filing = build(alice, case["id"], filing_copy=True, bates_prefix="FILE")  # every exhibit, copies left out
    team_text = pdf_text(download(alice, team))
    assert EMAIL in team_text and SSN in team_text  # the team's bundle shows the original
    filed = read_back(download(alice, filing), "application/pdf")
    # (the case has no terms, so the term stays: it is not a detector's)
    assert [found for found in survivors(filed) if found[1] != "bluefinch"] == []
    assert "nothing to redact" in filed["pdftotext"]
    # A redaction accepted and not applied yet: no filing copy until it is.
    alice.post(
        f"/api/v1/evidence/{orders['id']}/redactions", json={"page": 1, "box": [0.6, 0.6, 0.7, 0.7], "reason": "PO"}
    )
    r = alice.post(f"/api/v1/cases/{case['id']}/bundles", json={"filing_copy": True, "bates_prefix": "FILE"})
    assert r.status_code == 409 and r.json()["code"] == "redactions_not_applied", r.text


def test_an_address_a_narrow_column_hyphenates_over_two_lines_is_found_and_covered_whole(alice):
    case = alice.make_case()
    address = "jane.roe.refunds.for.five.stars@reviewfarm-payments.example"
    columns = ["order", "buyer", "email", "product", "stars", "paid", "memo", "status", "seller", "channel"]
    row = ["A-1", "Jane Roe", address, "B0X-EARBUDS", "5", "100.00", "refund for review", "paid", "Mpow", "PayPal"]
    data = (",".join(columns) + "\r\n" + ",".join(row) + "\r\n").encode()
    item = wait_text(alice, alice.upload(case["id"], data, filename="narrow.csv").json()["id"])
    found = alice.post(f"/api/v1/evidence/{item['id']}/redactions/suggest").json()["items"]
    email = [s for s in found if s["rule"] == "email"]
    assert email and {s["found"] for s in email} == {address}, [(s["text"], s["found"]) for s in found]
    assert len(email) >= 2  # one box per line it runs over
    for s in email:
        r = alice.request("PATCH", f"/api/v1/evidence/{item['id']}/redactions/{s['id']}", json={"status": "accepted"})
        assert r.status_code == 200
    done = apply_redactions(alice, item)
    assert done["status"] == "done", done["error"]
    copy = alice.get(f"/api/v1/evidence/{done['derived_evidence_id']}/content").content
    text = " ".join(pdf_text(copy).split())
    assert "reviewfarm" not in text and "jane.roe" not in text and "EARBUDS" in text  # (read back by OCR)
