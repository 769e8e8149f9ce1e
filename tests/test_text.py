"""Evidence text: read in the background after upload, by OCR for pictures, from a PDF's own text, decoded from
text files; read back per page and as word boxes; read again on request."""

import uuid

import pytest
from sqlalchemy import delete
from sqlmodel import col

from api.db import session_scope
from models.text import EvidenceText
from tests.helpers import run_cli
from tests.text_support import wait_text

pytestmark = pytest.mark.slow


def _upload(actor, case_id, demo_file):
    r = actor.upload(
        case_id, demo_file.path.read_bytes(), demo_file.path.name, kind=demo_file.kind, title=demo_file.title
    )
    assert r.status_code == 201, r.text
    assert r.json()["text_status"] in ("pending", "running", "done")
    return r.json()


def test_screenshot_and_insert_card_are_read_by_ocr(alice, corpus, ocr_on):
    case = alice.make_case()
    review = next(f for f in corpus if f.kind == "review_screenshot")
    item = wait_text(alice, _upload(alice, case["id"], review)["id"])
    assert item["text_status"] == "done", item["text_error"]
    assert item["text_engine"].startswith("tesseract") and item["ocr_pages"] == 1 and item["ocr_seconds"] > 0
    assert item["text_language"] == "eng" and item["text_chars"] > 50
    body = alice.get(f"/api/v1/evidence/{item['id']}/text").json()
    [page] = body["pages"]
    assert page["source"] == "ocr" and review.facts["reviewer_name"] in page["text"]
    tsv = alice.get(f"/api/v1/evidence/{item['id']}/text", params={"format": "tsv"}).text
    first_name = review.facts["reviewer_name"].split()[0]
    assert any(line.split("\t")[-1] == first_name for line in tsv.splitlines())
    hocr = alice.get(f"/api/v1/evidence/{item['id']}/text", params={"format": "hocr"}).text
    assert "ocrx_word" in hocr and first_name in hocr


def test_pdf_text_email_and_csv_are_read_without_ocr(alice, corpus, ocr_on):
    case = alice.make_case()
    chat = next(f for f in corpus if f.path.suffix == ".pdf")
    email = next(f for f in corpus if f.path.suffix == ".eml")
    chat_item = wait_text(alice, _upload(alice, case["id"], chat)["id"])
    assert chat_item["text_status"] == "done" and chat_item["ocr_pages"] == 0 and chat_item["text_engine"] == "pdfium"
    mail = wait_text(alice, _upload(alice, case["id"], email)["id"])
    assert mail["text_engine"] == "decoded"
    text = alice.get(f"/api/v1/evidence/{mail['id']}/text", params={"format": "txt"}).text
    assert "Subject:" in text and "refund" in text.lower()
    csv = alice.upload(
        case["id"], "name,memo\nZoë Ångström,réfund 5★\n".encode("cp1252", errors="replace"), "p.csv"
    ).json()
    done = wait_text(alice, csv["id"])
    assert done["text_status"] == "done"
    assert "Ångström" in alice.get(f"/api/v1/evidence/{csv['id']}/text", params={"format": "txt"}).text


def test_backfill_reads_evidence_stored_before_text_was_read(alice):
    case = alice.make_case()
    items = [alice.upload(case["id"], f"chat line {n}: refund sent".encode(), f"c{n}.txt").json() for n in range(3)]
    for item in items:
        wait_text(alice, item["id"])
    with session_scope() as session:  # as a database from before text was read holds them: no text job at all
        ids = [uuid.UUID(item["id"]) for item in items]
        session.execute(delete(EvidenceText).where(col(EvidenceText.id).in_(ids)))
    assert alice.get(f"/api/v1/evidence/{items[0]['id']}").json()["text_status"] is None
    bad = run_cli("text", "backfill", "--case", "not-a-case")
    assert bad.returncode == 2 and "--case must be a case id" in bad.stderr
    ran = run_cli("text", "backfill", "--case", case["id"])
    assert ran.returncode == 0, ran.stderr
    assert "done" in ran.stdout
    for item in items:
        assert wait_text(alice, item["id"])["text_status"] == "done"
    assert "refund sent" in alice.get(f"/api/v1/evidence/{items[2]['id']}/text", params={"format": "txt"}).text
