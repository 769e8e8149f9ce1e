"""Evidence text: read in the background after upload, by OCR for pictures, from a PDF's own text, decoded from
text files; read back per page and as word boxes; read again on request."""

import pytest

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
