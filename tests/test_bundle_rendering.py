"""How much of each exhibit a bundle reproduces, said where a lawyer and a clerk look: a long table prints in full up
to the page limit (past it the exhibit is truncated, says what is left off and its native file is identified on a
page of its own), a wide table is split into column groups at 8 pt or more, and a file that cannot be reproduced
gets a page in words with no server path or exception on it. Real bundles built over HTTP, read back with pdftotext
and pikepdf."""

import csv
import io
import random
import re
import subprocess
import tempfile

import pytest

from tests.helpers import build, download, tuned_server
from tests.pdf_reading import text_sizes
from tests.server_process import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.engine]

BARE = {"slip_sheets": False, "cover": False, "index": False, "certificate": False}
PAGE_LIMIT = 4  # the tuned server's CASEBINDER_BUNDLE_TABLE_MAX_PAGES


def pdftotext(data: bytes) -> list[str]:
    """Each page's text as poppler reads it (what a reader copying from the PDF gets)."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(data)
        f.flush()
        out = subprocess.run(["pdftotext", "-layout", f.name, "-"], capture_output=True, check=True).stdout
    return out.decode().split("\f")[:-1]


def exhibit_pages(bundle: dict, texts: list[str], n: int) -> list[str]:
    placed = bundle["exhibits"][n]
    return texts[placed["start_page"] - 1 : placed["start_page"] - 1 + placed["page_count"]]


def orders_csv(rows: int, columns: int, seed: str) -> tuple[bytes, list[list[str]]]:
    """An order report as marketplaces export them: a first column that is the same on every row, the order ID
    second, then dates, amounts, names, addresses and product titles, `columns` in all."""
    rng = random.Random(seed)
    names = ["Website", "Order ID", "Order Date", "Buyer Name", "Buyer Email", "ASIN", "Product Name", "Quantity"]
    names += ["Item Price", "Item Tax", "Shipping Price", "Ship City", "Ship State", "Ship Postal Code", "Carrier"]
    headers = [names[i] if i < len(names) else f"Custom Field {i + 1}" for i in range(columns)]
    body = []
    for n in range(rows):
        values = {
            "Website": "Amazon.com",
            "Order ID": f"112-{rng.randrange(10**7):07d}-{n:07d}",
            "Order Date": f"2021-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "Buyer Name": rng.choice(["Jennifer Johnson", "Wei Zhang", "Ana María López", "Tom O'Brien"]),
            "Buyer Email": f"buyer{n}@mail.example",
            "ASIN": f"B0{rng.randrange(36**8):08X}"[:10],
            "Product Name": rng.choice(["Wireless earbuds, 40 h battery", "Bluetooth speaker IPX7 waterproof"]),
            "Quantity": str(rng.randint(1, 3)),
        }
        body.append([values.get(h, f"{h.split()[-1]}-{n}-{rng.randrange(1000)}") for h in headers])
    out = io.StringIO()
    csv.writer(out).writerows([headers, *body])
    return out.getvalue().encode(), [headers, *body]


def test_a_3000_row_csv_prints_in_full_and_the_bundle_says_so(alice):
    data, (headers, *rows) = orders_csv(3000, 5, "rendering:3000")
    case = alice.make_case(bates_prefix="LONG")
    alice.upload(case["id"], data, filename="orders.csv", kind="order_record", title="Order report 2021")
    bundle = build(alice, case["id"], **BARE)
    placed = bundle["exhibits"][0]
    assert (placed["rendering"], placed["rendering_reason"]) == ("complete", None)
    assert bundle["validation"]["ok"] is True and bundle["validation"]["warnings"] == []
    fetched = alice.get(f"/api/v1/bundles/{bundle['id']}").json()["exhibits"][0]
    assert (fetched["rendering"], fetched["rendering_reason"]) == ("complete", None)

    pages = exhibit_pages(bundle, pdftotext(download(alice, bundle)), 0)
    text = "\n".join(pages)
    assert all(row[1] in text for row in rows)  # every order, the last one too
    assert re.search(rf"^\s*3001\s+{re.escape(rows[-1][0])}\s+{re.escape(rows[-1][1])}", text, re.M)
    assert "Not all of this file is printed" not in text and "Native file" not in text
    for page in pages:  # the header row on every page
        assert re.search(r"Row\s+Website\s+Order ID\s+Order Date\s+Buyer Name", page), page[:300]


def test_wide_tables_split_into_column_groups_that_repeat_the_row_and_its_key_at_8_pt_or_more(alice):
    case = alice.make_case(bates_prefix="WIDE")
    tables = {}
    for columns in (30, 70):
        data, table = orders_csv(60, columns, f"rendering:{columns}")
        alice.upload(case["id"], data, filename=f"orders-{columns}.csv", kind="order_record", title=f"{columns}")
        tables[columns] = table
    bundle = build(alice, case["id"], **BARE)
    data = download(alice, bundle)
    texts = pdftotext(data)
    for n, (columns, (_, *rows)) in enumerate(tables.items()):
        assert bundle["exhibits"][n]["rendering"] == "complete"
        pages = exhibit_pages(bundle, texts, n)
        spans = []
        for page in pages:
            found = re.search(rf"columns (\d+)\u2013(\d+) of {columns} ", page)
            assert found, page[:400]
            spans.append((int(found[1]), int(found[2])))
            assert re.search(r"^\s*Row\s", page, re.M) and "Order ID" in page  # the row number and the key column
        groups = sorted(set(spans))
        assert groups[0][0] == 1 and groups[-1][1] == columns and len(groups) > 2
        assert all(a[1] + 1 == b[0] for a, b in zip(groups, groups[1:], strict=False))  # every column, once
        assert spans[: len(groups)] == groups  # over, then down: a run of rows across its groups, in order
        for number, row in enumerate(rows, 2):
            # The row is on one page per group, those pages in a row, each with its number and order ID.
            holding = [i for i, page in enumerate(pages) if re.search(rf"^\s*{number}\s(.*\s)?{row[1]}\s", page, re.M)]
            assert len(holding) == len(groups) and holding == list(range(holding[0], holding[0] + len(groups)))
            # Every value on those pages, its words whole (a cell wraps between words).
            words = set("\n".join(pages[i] for i in holding).split())
            assert all(set(value.split()) <= words for value in row), (number, row)
    pages = [n for p in bundle["exhibits"] for n in range(p["start_page"], p["start_page"] + p["page_count"])]
    smallest = text_sizes(data, pages)
    assert all(round(size, 2) >= 8 for size in smallest.values()), smallest  # 7.9995: float error in the matrices


def test_damaged_originals_get_a_page_in_words_without_paths_or_exceptions(alice, blob_root):
    case = alice.make_case(bates_prefix="BAD")
    uploads = [
        ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >> garbage trailer", "damaged"),
        ("scan.png", b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "could not be read"),
    ]
    items = [alice.upload(case["id"], body, filename=name, title=name).json() for name, body, _ in uploads]
    bundle = build(alice, case["id"], certificate=False)
    assert bundle["validation"]["ok"] is False
    assert [w["rendering"] for w in bundle["validation"]["warnings"]] == ["placeholder", "placeholder"]
    texts = pdftotext(download(alice, bundle))
    blobs = [str(blob_root / "sha256" / i["sha256"][:2] / i["sha256"][2:4] / i["sha256"]) for i in items]
    for n, (name, _, why) in enumerate(uploads):
        placed = bundle["exhibits"][n]
        assert placed["rendering"] == "placeholder" and why in placed["rendering_reason"]
        assert items[n]["sha256"] in placed["rendering_reason"]
        page = " ".join(" ".join(exhibit_pages(bundle, texts, n)).split())
        assert "could not be reproduced" in page and why in page and name in page and items[n]["sha256"] in page
    said = [*texts, *(w["reason"] for w in bundle["validation"]["warnings"])]
    for text in said:
        for internal in ("Error", "Exception", "Traceback", "/tmp", str(blob_root), *blobs, "pikepdf", "PIL"):
            assert internal not in text, (internal, text[:500])
    assert "[Not reproduced] broken.pdf" in " ".join(texts[1].split())  # the index marks them


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """A server whose printed tables stop at PAGE_LIMIT pages."""
    yield from tuned_server(tmp_path_factory, "limited", {"CASEBINDER_BUNDLE_TABLE_MAX_PAGES": str(PAGE_LIMIT)})


def _built(http, case: dict, **body) -> dict:
    r = http.post(f"/api/v1/cases/{case['id']}/bundles", json=body)
    assert r.status_code == 202, r.text
    done = wait_for(
        lambda: (b := http.get(f"/api/v1/bundles/{r.json()['id']}").json())["status"] in ("done", "failed") and b,
        seconds=300,
        what="the bundle to be built",
    )
    assert done["status"] == "done", done
    return done


def test_a_table_past_the_page_limit_is_truncated_said_and_its_native_file_identified(limited):
    data, (headers, *rows) = orders_csv(600, 5, "rendering:limit")
    with limited.client() as http:
        case = http.post("/api/v1/cases", json={"title": "Acme v. Long", "case_type": "lanham_act"}).json()
        item = http.post(
            f"/api/v1/cases/{case['id']}/evidence",
            files={"file": ("orders.csv", data)},
            data={"kind": "order_record", "title": "Order report"},
        ).json()
        bundle = _built(http, case, certificate=False)
        placed = bundle["exhibits"][0]
        assert placed["rendering"] == "truncated"
        reason = placed["rendering_reason"]
        printed = int(re.search(r"Records ([\d,]+) to 600 of 600", reason)[1].replace(",", "")) - 1
        assert 0 < printed < 600 and f"{PAGE_LIMIT}-page limit" in reason
        assert "orders.csv" in reason and item["sha256"] in reason
        validation = bundle["validation"]
        assert validation["ok"] is False and validation["incomplete_allowed"] is False
        assert validation["warnings"] == [
            {"label": placed["label"], "exhibit_id": item["exhibit"]["id"], "rendering": "truncated", "reason": reason}
        ]
        pdf = http.get(f"/api/v1/bundles/{bundle['id']}/pdf").content
        texts = pdftotext(pdf)
        assert "[Printed in part] Order report" in " ".join(texts[1].split())  # the index
        pages = exhibit_pages(bundle, texts, 0)
        table = "\n".join(pages[1:-1])
        assert rows[printed - 1][1] in table and rows[printed][1] not in "\n".join(texts)
        assert len(pages) - 2 <= PAGE_LIMIT  # the slip sheet, the table, the native file's page
        native = " ".join(pages[-1].split())
        assert "Native file" in native and item["sha256"] in native and "orders.csv" in native and "text/csv" in native
        assert f"Not all of Exhibit {placed['label']} is printed" in native

        accepted = _built(http, case, certificate=False, allow_incomplete=True)
        assert accepted["params"]["allow_incomplete"] is True
        assert accepted["validation"]["ok"] is True and accepted["validation"]["incomplete_allowed"] is True
        assert accepted["validation"]["warnings"] == validation["warnings"]
        r = http.post(f"/api/v1/bundles/{accepted['id']}/rebuild")
        assert r.status_code == 202, r.text
        again = wait_for(
            lambda: (b := http.get(f"/api/v1/bundles/{accepted['id']}").json())["status"] == "done" and b,
            seconds=300,
            what="the rebuild",
        )
        assert again["validation"]["ok"] is True and again["sha256"] == accepted["sha256"]


def test_text_past_the_character_limit_and_e_mail_attachments_are_said_to_be_left_off(tmp_path):
    from api.bundle import records
    from api.bundle.spec import RecordLimits

    path = tmp_path / "notes.txt"
    text = "".join(f"line {n} of the seller's notes\n" for n in range(1, 1001))
    path.write_text(text)
    view = records.view("text", path, RecordLimits(text_chars=5000))
    assert "\n".join(view["blocks"]) == text[:5000]  # printed in blocks, as it is, up to the limit
    shown = text[:5000].count("\n") + 1
    assert view["losses"] == [
        f"the text is longer than the 5,000-character limit for printed text: from line {shown} of 1,000 on, it is "
        "not printed"
    ]
    assert view["note"].startswith("Not all of this file is printed: the text is longer")

    mail = tmp_path / "offer.eml"
    mail.write_bytes(
        b"From: deals@acme-store.example\r\nTo: buyer@mail.example\r\nSubject: Refund\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain\r\n\r\nFull refund for a 5-star review.\r\n--b\r\n"
        b'Content-Type: image/png\r\nContent-Disposition: attachment; filename="review.png"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b--\r\n"
    )
    view = records.view("email", mail)
    assert view["losses"] == ["its 1 attachment is listed by name, not reproduced"]
    assert view["parts"][-1] == {"label": "Attachments (listed, not reproduced)", "blocks": ["review.png"]}
