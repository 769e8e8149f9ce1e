"""Productions through the API: a case's picture, text PDF, CSV and e-mail with planted secrets are redacted and
produced with a native spreadsheet, an item withheld for privilege and one redacted for it. The ZIP is read back
as the other side reads it: its DAT and OPT by an independent reader, every file against the manifest, every image
and text file with pdftotext, OCR and a raw byte search (no planted secret survives), every page stamped with its
production Bates number; the privilege log lists the withheld and redacted items, the redaction log the rest; and a
reproduction gives the same bytes. Bad requests are refused and leave nothing."""

import hashlib
import io
import re
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from tests.loadfile_reader import read_dat, read_opt
from tests.redaction_support import (
    EMAIL,
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
    wait_ended,
)
from tests.text_support import wait_text

pytestmark = pytest.mark.slow
LEDGER = b"date,amount,memo\r\n2021-03-01,12.00,coffee\r\n2021-03-02,40.00,shipping\r\n"


def _upload(actor, case_id: str, data: bytes, filename: str, kind: str = "other", **more) -> dict:
    r = actor.upload(case_id, data, filename=filename, kind=kind, title=f"Produced {filename}", **more)
    assert r.status_code == 201, r.text
    return wait_text(actor, r.json()["id"])


def produce(actor, case_id: str, **body) -> dict:
    r = actor.post(f"/api/v1/cases/{case_id}/productions", json=body)
    assert r.status_code == 202, r.text
    assert r.headers["location"].endswith(r.json()["id"])
    return wait_ended(actor, f"/api/v1/productions/{r.json()['id']}")


def _bates_sizes(page: pikepdf.Page, bates: str) -> list[float]:
    """The font sizes the page's Bates number is drawn at."""
    sizes, size = [], 0.0
    for operands, operator in pikepdf.parse_content_stream(page):
        if operator == pikepdf.Operator("Tf"):
            size = float(operands[1])
        elif operator == pikepdf.Operator("Tj") and bytes(operands[0]) == bates.encode():
            sizes.append(size)
    return sizes


def test_a_redacted_production_reads_back_clean_complete_and_the_same_every_time(alice, ocr_on):
    case = alice.make_case()
    r = alice.request("PUT", f"/api/v1/cases/{case['id']}/redaction-terms", json={"terms": [TERM]})
    assert r.status_code == 200
    shot = _upload(alice, case["id"], picture(), "review-shot.png", kind="review_screenshot")
    scan = _upload(alice, case["id"], scanned_pdf(), "scan.pdf", kind="refund_record")
    statement = _upload(alice, case["id"], text_pdf(), "statement.pdf", kind="refund_record")
    orders = _upload(alice, case["id"], csv_file(), "orders.csv", kind="order_record")
    mail = _upload(alice, case["id"], email_file(), "refund.eml", kind="email")
    ledger = _upload(alice, case["id"], LEDGER, "ledger.csv", kind="refund_record")
    advice = _upload(alice, case["id"], b"Counsel's advice on the refund scheme.\n", "advice.txt")
    memo = _upload(alice, case["id"], b"Memo: the review scheme; counsel says settle.\n", "memo.txt")
    for item in (shot, scan, statement, orders, mail):
        accept_suggestions(alice, item, {"ssn", "card", "email", "term"})
        assert apply_redactions(alice, item)["status"] == "done"
    claim = {"privilege": "attorney-client", "basis": "Legal advice sought from counsel", "date": "2021-03-04",
             "author": "A. Counsel", "recipients": ["B. Client"], "subject": "Advice on refunds"}  # fmt: skip
    r = alice.request("PUT", f"/api/v1/evidence/{advice['id']}/privilege", json=claim | {"treatment": "withheld"})
    assert r.status_code == 200, r.text
    r = alice.request("PUT", f"/api/v1/evidence/{memo['id']}/privilege", json=claim | {"treatment": "redacted"})
    assert r.status_code == 200, r.text
    # The memo's privileged words are covered by a box drawn by hand over the first line of its rendering.
    drawn = alice.post(
        f"/api/v1/evidence/{memo['id']}/redactions",
        json={"page": 1, "box": [0.05, 0.05, 0.95, 0.3], "reason": "Privilege: attorney-client"},
    )
    assert drawn.status_code == 201, drawn.text
    assert apply_redactions(alice, memo)["status"] == "done"
    r = alice.request(
        "PATCH",
        f"/api/v1/cases/{case['id']}/exhibits/{statement['exhibit']['id']}",
        json={"designation": "confidential"},
    )
    assert r.status_code == 200, r.text

    items = [shot, scan, statement, orders, mail, ledger, advice, memo]
    done = produce(alice, case["id"], name="First production", prefix="ACME-PROD", recipient="Counsel for Mpow",
                   items=[i["id"] for i in items], natives=["csv"])  # fmt: skip
    assert done["status"] == "done", done["error"]
    assert (done["label"], done["bates_first"]) == ("PROD001", "ACME-PROD000001")
    zipped = alice.get(f"/api/v1/productions/{done['id']}/zip")
    assert zipped.status_code == 200 and hashlib.sha256(zipped.content).hexdigest() == done["zip_sha256"]
    archive = zipfile.ZipFile(io.BytesIO(zipped.content))
    files = {name: archive.read(name) for name in archive.namelist()}
    assert {name: hashlib.sha256(data).hexdigest() for name, data in files.items()} == done["manifest"]

    rows = read_dat(files["DATA/PROD001.dat"], "utf-8")
    pages = read_opt(files["DATA/PROD001.opt"])
    assert [r["BEGBATES"] for r in rows] == [d["bates_first"] for d in done["documents"]]
    assert len(rows) == len(items) and rows[0]["BEGBATES"] == "ACME-PROD000001"
    assert [line.bates for line in pages] == [f"ACME-PROD{n:06d}" for n in range(1, len(pages) + 1)]
    assert pages[-1].bates == done["bates_last"] == rows[-1]["ENDBATES"]
    by_id = dict(zip((i["id"] for i in items), rows, strict=True))
    for row in rows:
        first = next(n for n, line in enumerate(pages) if line.bates == row["BEGBATES"])
        mine = pages[first : first + int(row["PAGECOUNT"])]
        assert mine[0].document_break and mine[0].pages == int(row["PAGECOUNT"]) and mine[-1].bates == row["ENDBATES"]
        assert not any(line.document_break for line in mine[1:]) and {line.volume for line in mine} == {"PROD001"}
        assert {line.path for line in mine} == {f"IMAGES/{row['BEGBATES']}.pdf"}  # one PDF per document
        with pikepdf.open(io.BytesIO(files[mine[0].path])) as pdf:
            assert len(pdf.pages) == int(row["PAGECOUNT"])
            for line, page in zip(mine, pdf.pages, strict=True):
                assert _bates_sizes(page, line.bates) and min(_bates_sizes(page, line.bates)) >= 10
        if row["TEXTPATH"]:
            assert row["TEXTPATH"].replace("\\", "/") in files
        if row["NATIVEPATH"]:
            assert files[row["NATIVEPATH"].replace("\\", "/")] == LEDGER
    assert by_id[ledger["id"]]["NATIVEPATH"] == "NATIVES\\ACME-PROD" + by_id[ledger["id"]]["BEGBATES"][9:] + ".csv"
    assert by_id[shot["id"]]["REDACTED"] == "Y" and by_id[ledger["id"]]["REDACTED"] == "N"
    assert by_id[advice["id"]]["WITHHELD"] == "Y" and by_id[advice["id"]]["FILENAME"] == ""
    assert by_id[advice["id"]]["PAGECOUNT"] == "1" and by_id[statement["id"]]["CONFIDENTIALITY"] == "Confidential"
    assert by_id[mail["id"]]["DATESENT"] == "03/02/2021" and by_id[shot["id"]]["SHA256HASH"] == shot["sha256"]
    assert by_id[shot["id"]]["MD5HASH"] == hashlib.md5(picture(), usedforsecurity=False).hexdigest()

    # No planted secret survives in any file of it: images (text, OCR, strings, streams), text files, load files.
    for name, data in files.items():
        if name.startswith("IMAGES/"):
            assert survivors(read_back(data, "application/pdf")) == [], name
        elif name.startswith(("TEXT/", "DATA/")):
            assert survivors({"raw": data.decode("utf-8", "replace")}) == [], name
    with tempfile.TemporaryDirectory() as tmp:  # the stamps are on the pages, and the legend where designated
        path = Path(tmp) / "p.pdf"
        path.write_bytes(files[f"IMAGES/{by_id[statement['id']]['BEGBATES']}.pdf"])
        shown = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert by_id[statement["id"]]["BEGBATES"] in shown and "CONFIDENTIAL" in shown
    withheld = files[f"TEXT/{by_id[advice['id']]['BEGBATES']}.txt"].decode()
    assert "Counsel's advice" not in withheld and "Withheld" in withheld

    log = alice.get(f"/api/v1/cases/{case['id']}/privilege-log").content.decode("utf-8-sig")
    lines = log.strip().splitlines()
    assert len(lines) == 3 and "Withheld" in log and "Redacted" in log and "attorney-client" in log
    assert by_id[advice["id"]]["BEGBATES"] in log and by_id[memo["id"]]["BEGBATES"] in log
    pdf_log = alice.get(f"/api/v1/cases/{case['id']}/privilege-log", params={"format": "pdf"})
    assert pdf_log.status_code == 200 and pdf_log.headers["content-type"] == "application/pdf"
    text = " ".join(pdf_text(pdf_log.content).split())
    assert "PRIVILEGE LOG" in text.upper() and by_id[advice["id"]]["BEGBATES"] in text and "Advice on refunds" in text
    redaction_log = alice.get(f"/api/v1/cases/{case['id']}/redaction-log").content.decode("utf-8-sig")
    assert "FRCP 5.2(a)(1)" in redaction_log and by_id[shot["id"]]["BEGBATES"] in redaction_log
    assert "Privilege" not in redaction_log and survivors({"log": redaction_log}) == []

    again = alice.post(f"/api/v1/productions/{done['id']}/reproduce")
    assert again.status_code == 200, again.text
    assert again.json()["same"] is True and again.json()["different"] == [], again.json()

    # A second production continues the numbers; one that would repeat them is refused with where they were issued.
    clash = alice.post(f"/api/v1/cases/{case['id']}/productions",
                       json={"name": "Again", "prefix": "ACME-PROD", "start": 3, "items": [ledger["id"]]})  # fmt: skip
    assert clash.status_code == 409 and clash.json()["code"] == "bates_clash", clash.text
    assert "PROD001" in clash.json()["detail"] and done["bates_last"] in clash.json()["detail"]
    second = produce(alice, case["id"], name="Second", prefix="ACME-PROD", items=[ledger["id"]], natives=[])
    last = int(done["bates_last"][len("ACME-PROD") :])
    assert second["bates_first"] == f"ACME-PROD{last + 1:06d}" and second["label"] == "PROD002"


def test_a_tiff_production_in_windows_1252_has_a_picture_per_page(alice):
    case = alice.make_case()
    item = _upload(alice, case["id"], csv_file().replace(b"\xe6\x9d\x8e\xe4\xbc\x9f", b""), "orders.csv")
    done = produce(alice, case["id"], name="Tiff", prefix="T-", items=[item["id"]], redacted=False,
                   image_format="tiff", encoding="windows-1252")  # fmt: skip
    assert done["status"] == "done", done["error"]
    archive = zipfile.ZipFile(io.BytesIO(alice.get(f"/api/v1/productions/{done['id']}/zip").content))
    [row] = read_dat(archive.read("DATA/PROD001.dat"), "cp1252")
    assert archive.read("DATA/PROD001.dat")[:1] == b"\xfe"  # þ as Windows-1252 writes it, no byte order mark
    pages = read_opt(archive.read("DATA/PROD001.opt"))
    assert len(pages) == int(row["PAGECOUNT"]) >= 1
    for line in pages:
        assert re.fullmatch(r"IMAGES/T-\d{6}\.tif", line.path) and line.path == f"IMAGES/{line.bates}.tif"
        with Image.open(io.BytesIO(archive.read(line.path))) as im:
            assert im.mode == "1" and im.info["compression"] == "group4" and round(im.info["dpi"][0]) == 300
    assert row["REDACTED"] == "N" and row["FILENAME"] == "orders.csv"


def test_bad_productions_are_refused_and_leave_nothing(alice, bob):
    case = alice.make_case()
    url = f"/api/v1/cases/{case['id']}/productions"
    r = alice.post(url, json={"name": "Empty", "prefix": "ACME", "items": []})
    assert r.status_code == 422 and "at least one" in r.json()["detail"]
    r = alice.post(url, json={"name": "Bad", "prefix": "acme1", "items": []})
    assert r.status_code == 422
    other = bob.make_case()
    theirs = bob.upload(other["id"], LEDGER, filename="ledger.csv").json()
    r = alice.post(url, json={"name": "Not ours", "prefix": "ACME", "items": [theirs["id"]]})
    assert r.status_code == 422 and theirs["id"] in r.json()["detail"]
    item = alice.upload(case["id"], csv_file(), filename="orders.csv").json()
    box = alice.post(f"/api/v1/evidence/{item['id']}/redactions", json={"page": 1, "box": [0.1, 0.1, 0.4, 0.2],
                                                                          "reason": "Personal data"})  # fmt: skip
    assert box.status_code == 201, box.text
    r = alice.post(url, json={"name": "Half", "prefix": "ACME", "items": [item["id"]]})
    assert r.status_code == 409 and r.json()["code"] == "redactions_not_applied"
    assert alice.get(f"/api/v1/cases/{case['id']}/productions").json() == []
    assert bob.get(f"/api/v1/cases/{case['id']}/productions").status_code == 404


def test_a_production_that_would_leak_a_string_redacted_elsewhere_is_not_released(alice):
    case = alice.make_case()
    statement = _upload(alice, case["id"], text_pdf(), "statement.pdf")
    accept_suggestions(alice, statement, {"email"})
    assert apply_redactions(alice, statement)["status"] == "done"
    # The same address in another document, not redacted there: producing both would send it out.
    contacts = _upload(alice, case["id"], f"name,email\r\nJane Roe,{EMAIL}\r\n".encode(), "contacts.csv")
    done = produce(alice, case["id"], name="Leaky", prefix="LEAK", items=[statement["id"], contacts["id"]])
    assert done["status"] == "failed" and "nothing was released" in done["error"], done
    assert "LEAK000003" in done["error"] and "email" in done["error"], done["error"]
    assert done["zip_sha256"] is None and done["manifest"] == {}
    r = alice.get(f"/api/v1/productions/{done['id']}/zip")
    assert r.status_code == 422
    # Produced natively, the file's own bytes are read too.
    done = produce(alice, case["id"], name="Leaky native", prefix="LEAK", items=[statement["id"], contacts["id"]],
                   natives=["csv"])  # fmt: skip
    assert done["status"] == "failed" and "NATIVES/" in done["error"], done["error"]
