"""What exhibit pages look like: images placed at a readable size, JSON Lines and CSV exports as tables whose
records stay whole. Real uploads, real builds, the PDFs read back with pikepdf and pypdf."""

import csv
import io
import json
import random
import re

import pikepdf
import pytest
from PIL import Image, ImageDraw

from api.bundle import records, tables
from api.bundle.spec import IMAGE_DPI, RecordLimits, content_box
from api.demo_data import write_activity_csv, write_exchanges_jsonl
from tests.helpers import BARE, build, download, extract, placed_images

pytestmark = [pytest.mark.slow, pytest.mark.engine]


def _screenshot(width: int, height: int) -> bytes:
    im = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(im)
    draw.rectangle([0, 0, width, 60], fill=(35, 47, 62))
    for y in range(100, height - 20, 24):
        draw.text((40, y), "Exceeded my expectations, will buy again. Battery lasts forever.", fill="black")
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def _photo(width: int, height: int) -> bytes:
    """A smooth JPEG (it compresses small) of the given pixel size."""
    im = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    ImageDraw.Draw(im).ellipse([width // 4, height // 4, width * 3 // 4, height * 3 // 4], fill=(200, 120, 40))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=80)
    return buf.getvalue()


def test_screenshots_are_enlarged_to_the_page_and_photos_keep_their_size_and_pixels(alice):
    case = alice.make_case()
    uploads = [
        ("screenshot.png", _screenshot(1280, 640)),  # 4.3 in at 300 dpi: screen pixels
        ("phone.png", _screenshot(750, 1334)),  # a portrait screenshot
        ("print.jpg", _photo(2400, 1800)),  # 8 x 6 in at 300 dpi: print resolution, kept as it is
        ("large.jpg", _photo(4000, 3000)),  # larger than the page at 300 dpi: shrunk, as before
    ]
    for name, content in uploads:
        r = alice.upload(case["id"], content, filename=name, kind="review_screenshot", title=name)
        assert r.status_code == 201 and r.json()["media_type"].startswith("image/"), r.text
    bundle = build(alice, case["id"], **BARE)
    assert bundle["page_count"] == len(uploads)
    with pikepdf.open(io.BytesIO(download(alice, bundle))) as pdf:
        placed = {}
        for (name, content), page in zip(uploads, pdf.pages, strict=True):
            [(image, x0, y0, x1, y1)] = placed_images(page)
            landscape = float(page.mediabox[2]) > float(page.mediabox[3])
            box = content_box(landscape)
            # Inside the stamp-free area, and the pixels are the original's, never resampled.
            assert box[0] - 0.05 <= x0 and x1 <= box[2] + 0.05 and box[1] - 0.05 <= y0 and y1 <= box[3] + 0.05
            with Image.open(io.BytesIO(content)) as original:
                assert (int(image.Width), int(image.Height)) == original.size
            if name.endswith(".jpg"):
                assert image.read_raw_bytes() == content  # the JPEG is embedded byte for byte
            width, height = x1 - x0, y1 - y0
            assert width / height == pytest.approx(image.Width / image.Height, rel=1e-3)  # aspect ratio kept
            placed[name] = (width, height, box, landscape)

    width, height, box, landscape = placed["screenshot.png"]
    assert landscape and width == pytest.approx(box[2] - box[0], abs=0.05)  # fills the content width
    assert width > 2 * 1280 * 72 / IMAGE_DPI
    width, height, box, landscape = placed["phone.png"]
    assert not landscape
    assert max(width / (box[2] - box[0]), height / (box[3] - box[1])) == pytest.approx(1, abs=1e-3)
    width, height, _, _ = placed["print.jpg"]
    assert (width, height) == pytest.approx((2400 * 72 / IMAGE_DPI, 1800 * 72 / IMAGE_DPI), abs=0.05)
    width, height, box, _ = placed["large.jpg"]
    assert width < 4000 * 72 / IMAGE_DPI and height == pytest.approx(box[3] - box[1], abs=0.05)


def _exhibit_pages(bundle: dict, texts: list[str], index: int) -> list[str]:
    placed = bundle["exhibits"][index]
    first = placed["first_content_page"] - 1
    return texts[first : placed["start_page"] - 1 + placed["page_count"]]


def _flat(text: str) -> str:
    return " ".join(text.split())


def _unhyphenate(text: str) -> str:
    return re.sub(r"-\s+", "-", text)


def test_a_json_lines_exhibit_is_reproduced_one_message_per_row(alice, tmp_path):
    path = tmp_path / "exchanges.jsonl"
    write_exchanges_jsonl(path, 80, random.Random("pages:jsonl"))
    lines = path.read_text().splitlines()
    unusual = {
        "timestamp": "2021-07-01T09:00:00+00:00",
        "seller": "Zumiro",
        "message": "Bitte eine Bewertung mit fünf Sternen, dann erstatten wir alles über PayPal zurück, "
        "sobald der Screenshot da ist; das Angebot gilt nur für verifizierte Käufe dieser Woche",
        "asin": None,
        "meta": {"thread": 7, "read": True},
    }
    path.write_text("\n".join([*lines, json.dumps(unusual, ensure_ascii=False), ""]), encoding="utf-8")
    case = alice.make_case()
    item = alice.upload(case["id"], path.read_bytes(), filename=path.name, kind="chat_log", title="Messages").json()
    assert records.classify(item["media_type"], path.name) == "json", item["media_type"]
    bundle = build(alice, case["id"], **BARE)
    pages = _exhibit_pages(bundle, extract(download(alice, bundle)), 0)
    text = _flat("\n".join(pages))
    assert "Native file" not in text and "cannot be shown on paper" not in text
    for line in lines:
        record = json.loads(line)
        # Each message is on the page with its own timestamp and addresses.
        page = next(p for p in map(_flat, pages) if record["timestamp"] in p)
        assert record["message"] in page and record["reviewer_email"] in page and record["asin"] in page
    assert unusual["message"] in text  # wrapped in its cell, not cut
    assert '{"thread": 7, "read": true}' in text and "null" in text
    for page in pages:  # the header row on every page
        assert "timestamp" in page and "reviewer_email" in page and "message" in page


def test_csv_rows_never_split_across_pages_and_words_stay_whole(alice, tmp_path):
    """A PayPal export's 15 columns do not fit across a page at 8 pt: they are printed in two groups, a row's two
    halves on consecutive pages, each page with its own header row and the row number and transaction ID."""
    path = tmp_path / "paypal_activity.csv"
    write_activity_csv(path, [], 150, random.Random("pages:csv"))
    with path.open(newline="") as f:
        header, *rows = list(csv.reader(f))
    case = alice.make_case()
    alice.upload(case["id"], path.read_bytes(), filename=path.name, kind="refund_record", title="PayPal export")
    bundle = build(alice, case["id"], **BARE)
    pages = [_flat(p) for p in _exhibit_pages(bundle, extract(download(alice, bundle)), 0)]
    assert len(pages) > 3
    label = bundle["exhibits"][0]["label"]
    # The sticker on the first page, and the label beside the Bates number on every other: a page taken out of
    # the bundle still says which exhibit it belongs to.
    assert all(label in page for page in pages), [i for i, page in enumerate(pages) if label not in page]
    groups = [re.search(r"columns (\d+)\u2013(\d+) of 15", page) for page in pages]
    assert all(groups)
    spans = sorted({(int(g[1]), int(g[2])) for g in groups})
    assert len(spans) == 2 and spans[0][0] == 1 and spans[0][1] + 1 == spans[1][0] and spans[1][1] == 15
    for page, group in zip(pages, groups, strict=True):  # each group's header, its words unbroken, on its pages
        names = header[int(group[1]) - 1 : int(group[2])]
        assert " ".join(names) in page and "Transaction ID" in page and "Row" in page, (names, page[:300])
    for row in rows:
        date, time, _, name, kind, status, _, gross, _, _, payer, payee, txn, item, note = row
        # The transaction ID is printed whole on two consecutive pages, one per group, and the rest of its row is
        # on those pages (a line may break after a hyphen that a letter follows, "deals@acme-" / "store.example").
        holding = [i for i, page in enumerate(pages) if txn in page]
        assert len(holding) == 2 and holding[1] == holding[0] + 1, (txn, holding)
        both = _unhyphenate(" ".join(pages[i] for i in holding))
        for value in (f"{date} {time} UTC", name, kind, status, gross, payer, payee, item, note):
            assert _unhyphenate(value) in both, (txn, value)
    text = " ".join(pages)
    assert text.count("Completed") == len(rows)
    assert text.count(" Payment") == len(rows)  # "Payment Refund" and "General Payment", never "Paymen t"


@pytest.mark.parametrize(
    "media_type,filename,kind",
    [
        ("application/x-ndjson", "exchanges.jsonl", "json"),
        ("application/jsonl", "export", "json"),
        ("application/json-lines", "export.txt", "json"),
        ("text/plain", "messages.ndjson", "json"),
        ("text/plain", "messages.jsonl", "json"),
        ("text/csv", "messages.jsonl", "json"),
        ("application/json", "data.json", "json"),
        ("application/octet-stream", "messages.jsonl", "native"),  # not text, whatever the name says
        ("text/csv", "export.csv", "csv"),
        ("text/plain", "notes.txt", "text"),
    ],
)
def test_classify_accepts_json_lines_by_type_and_name(media_type, filename, kind):
    assert records.classify(media_type, filename) == kind


def test_oversize_json_lines_are_bounded_like_other_records(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_text("".join(json.dumps({"n": n, "message": f"message {n}"}) + "\n" for n in range(500)))
    view = records.view("json", path, RecordLimits(table_pages=1))
    # Each record numbered by its line in the file, in a first column; the page limit stops the table, and says so.
    shown = [row for run in view["runs"] for row in run["rows"]]
    assert (
        view["type"] == "table"
        and 20 < len(shown) < 500
        and shown[-1][1:] == [str(len(shown) - 1), f"message {len(shown) - 1}"]
    )
    assert view["headers"] == ["Line", "n", "message"] and view["key"] == "Line: the record's line in the file."
    assert view["numeric"] == [True, True, False]
    assert view["losses"] == [
        f"records {len(shown) + 1:,} to 500 of 500 (lines {len(shown) + 1:,} to 500 of the file) are not printed: "
        "the table would run past the 1-page limit for a printed table"
    ]
    assert view["note"].startswith("Not all of this file is printed: records")

    # Cut mid-record by the read limit: the partial last line is left out, not shown in half, and the lines not
    # read are counted.
    view = records.view("json", path, RecordLimits(text_chars=250))
    shown = [row for run in view["runs"] for row in run["rows"]]
    assert view["type"] == "table" and view["losses"][0].startswith("only the first 1,000 of its ")
    assert view["losses"][0].endswith(f"lines {len(shown) + 1:,} to 500 of 500 are not printed")
    last = shown[-1]
    assert json.dumps({"n": int(last[1]), "message": last[2]}) in path.read_text()

    # A value too long for a cell: each record becomes a pretty-printed block, nothing cut short.
    long = "x" * (RecordLimits().cell_chars + 50)
    path.write_text(json.dumps({"message": long}) + "\n" + json.dumps({"message": "short"}) + "\n")
    view = records.view("json", path)
    assert view["type"] == "text" and long in view["text"] and view["note"] is None and view["losses"] == []

    # Not JSON throughout: the text as it is, its indentation and blank lines kept.
    path.write_text('{"a": 1}\n\n    not json\n')
    view = records.view("json", path)
    assert view["type"] == "text" and view["text"] == '{\n  "a": 1\n}\n\n    not json'


def test_column_widths_give_every_word_room_and_fill_the_table():
    headers = ["Row", "Date", "Name", "Transaction ID", "Note"]
    rows = [["2", "01/04/2021", "Jennifer Johnson", "NNDBEDS6EWWOBCCAN", "review reward " * 8]] * 3
    table = tables.layout(headers, rows)
    assert len(table.groups) == 1 and not table.landscape and table.size == 9
    group = table.groups[0]
    assert sum(group.percents) == pytest.approx(100, abs=0.05)
    regular = tables.advances(False)
    for inner, word in zip(group.points[1:], ["01/04/2021", "Johnson", "NNDBEDS6EWWOBCCAN"], strict=False):
        assert inner >= tables.em(word, regular) * table.size


def test_a_cut_table_shows_only_whole_rows_and_says_what_was_shortened(tmp_path):
    """Rows past the page limit are left off whole and counted; a shortened cell is announced."""
    path = tmp_path / "export.csv"
    rows = [f"{n},TXN-{n:05d},{'note ' * 20}" for n in range(2000)]
    path.write_text("n,transaction,note\n" + "\n".join(rows) + "\n")
    whole = records.view("csv", path)
    assert sum(len(run["rows"]) for run in whole["runs"]) == 2000 and whole["note"] is None and not whole["losses"]

    cut = records.view("csv", path, RecordLimits(table_pages=2))
    shown = [row for run in cut["runs"] for row in run["rows"]]
    assert [row[2] for row in shown] == [f"TXN-{n:05d}" for n in range(len(shown))]
    # Rows numbered as a spreadsheet shows them: the column names are row 1.
    assert [row[0] for row in shown] == [str(n) for n in range(2, len(shown) + 2)] and cut["headers"][0] == "Row"
    assert cut["numeric"] == [True, True, False, False]
    assert cut["losses"] == [
        f"records {len(shown) + 1:,} to 2,000 of 2,000 (spreadsheet rows {len(shown) + 2:,} to 2,001) are not "
        "printed: the table would run past the 2-page limit for a printed table"
    ]

    path.write_text("n,note\n1," + "y" * 101 + "\n2,short\n")
    long = records.view("csv", path, RecordLimits(cell_chars=100))
    first = long["runs"][0]["rows"][0]
    assert first[2] == "y" * 100 + " [...]"
    assert long["losses"] == ["1 cell longer than 100 characters is cut short, marked [...]"]


def test_a_csv_that_is_not_utf8_is_read_as_windows_1252_and_says_so(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes("Name,City\nJosé Núñez,Málaga\n".encode("cp1252"))
    view = records.view("csv", path)
    assert view["runs"][0]["rows"] == [["2", "José Núñez", "Málaga"]] and view["losses"] == []
    assert "read as Windows-1252" in view["note"]
