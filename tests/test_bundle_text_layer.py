"""The OCR text of pictures, laid invisibly over them in a bundle: real uploads read by Tesseract, real builds, the
pages read back with pdftotext (their words, and where pdftotext finds them) and rendered with pdftoppm."""

import io
import re
import subprocess
import uuid
from pathlib import Path

import img2pdf
import pikepdf
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFont

from api.bundle.image_pages import plan
from api.bundle.stamp import FONT_PATHS
from api.bundle.text_layer import LAYER_NAME
from api.worker import text_runner
from tests.helpers import BARE, build, download, placed_images, wait_done
from tests.text_support import wait_text
from tests.web_support import sign_in

pytestmark = [pytest.mark.slow, pytest.mark.engine]

EDGE = 50  # pixels between a line's middle and the edge of the slice it is not on


def _read(actor, case_id: str, content: bytes, filename: str, **fields) -> dict:
    r = actor.upload(case_id, content, filename=filename, **fields)
    assert r.status_code == 201, r.text
    item = wait_text(actor, r.json()["id"])
    assert item["text_status"] == "done", item["text_error"]
    return item


def _pages(path: Path) -> list[str]:
    """pdftotext's text of each page, whitespace run together."""
    text = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout
    return [" ".join(page.split()) for page in text.split("\f")[:-1]]


def _boxes(path: Path, page: int) -> list[tuple[str, float, float, float, float]]:
    """pdftotext's words on a page (1-based), each with its box in points from the page's top left."""
    html = subprocess.run(
        ["pdftotext", "-bbox", "-f", str(page), "-l", str(page), str(path), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [
        (word, float(x0), float(y0), float(x1), float(y1))
        for x0, y0, x1, y1, word in re.findall(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', html
        )
    ]


def _render(path: Path, page: int, out: Path) -> Image.Image:
    prefix = out.with_suffix("")
    subprocess.run(
        ["pdftoppm", "-r", "72", "-png", "-singlefile", "-f", str(page), "-l", str(page), str(path), str(prefix)],
        check=True,
    )
    return Image.open(f"{prefix}.png").convert("RGB")


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(next(p for p in FONT_PATHS if p.exists())), size)


def _picture(lines: dict[int, str], size: tuple[int, int], px: int = 40) -> Image.Image:
    """White, with each line of text at its height in pixels."""
    im = Image.new("L", size, 255)
    draw = ImageDraw.Draw(im)
    for y, line in lines.items():
        draw.text((80, y), line, fill=0, font=_font(px))
    return im


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def _aligned(path: Path, page: int, tsv: str, drawn: tuple[float, ...], height: float) -> set[str]:
    """The words (of four letters or more) pdftotext finds on the page, each checked to lie over the word in the
    picture: the middle of its box inside the box Tesseract drew around the word (in the pixels it read, given in
    the TSV's page row), mapped onto `drawn`, where the picture is drawn on a page `height` points tall."""
    rows = [line.split("\t") for line in tsv.splitlines()[1:]]
    width_px, height_px = next((int(r[8]), int(r[9])) for r in rows if r[0] == "1")  # the page row: its size
    x0, y0, x1, y1 = drawn
    expected = {}
    for row in rows:
        if len(row) == 12 and len(row[11]) >= 4:
            left, top, w, h = (int(v) for v in row[6:10])
            expected[row[11]] = (
                x0 + left / width_px * (x1 - x0),
                height - (y1 - top / height_px * (y1 - y0)),
                x0 + (left + w) / width_px * (x1 - x0),
                height - (y1 - (top + h) / height_px * (y1 - y0)),
            )
    found = set()
    for word, bx0, by0, bx1, by1 in _boxes(path, page):
        if word in expected:
            ex0, ey0, ex1, ey1 = expected[word]
            assert ex0 <= (bx0 + bx1) / 2 <= ex1 and ey0 <= (by0 + by1) / 2 <= ey1, (
                word,
                (bx0, by0, bx1, by1),
                expected[word],
            )
            found.add(word)
    return found


def _layer_of(page: pikepdf.Page) -> pikepdf.Object | None:
    xobjects = page.obj.Resources.get("/XObject", {})
    return xobjects.get(LAYER_NAME)


def _window(piece, height: int) -> tuple[float, float]:
    """The rows of a picture `height` pixels tall (from its top) a slice shows."""
    top = piece.origin[1] + height * piece.scale
    return ((top - piece.clip[3]) / piece.scale, (top - piece.clip[1]) / piece.scale)


def _rows_shown(page: pikepdf.Page) -> tuple[float, float]:
    """The rows of a split picture (in pixels from its top) that a slice's page shows through its clip."""
    [(image, _, bottom, _, top)] = placed_images(page)
    clip: list[float] = []
    for operands, operator in pikepdf.parse_content_stream(page):
        if str(operator) == "re":
            clip = [float(v) for v in operands]
        elif str(operator) == "W" and clip:
            break
    _, y, _, h = clip
    per_pixel = (top - bottom) / int(image.Height)
    return ((top - (y + h)) / per_pixel, (top - y) / per_pixel)


def test_screenshot_and_insert_card_words_lie_over_their_pictures_and_nowhere_else(alice, corpus, ocr_on, tmp_path):
    case = alice.make_case(bates_prefix="OCR")
    review = next(f for f in corpus if f.kind == "review_screenshot")
    card = next(f for f in corpus if f.kind == "product_insert_card")  # a JPEG turned by its EXIF orientation
    chat = next(f for f in corpus if f.path.suffix == ".pdf" and f.kind == "chat_log")  # a PDF with its own text
    items = [
        _read(alice, case["id"], f.path.read_bytes(), f.path.name, kind=f.kind, title=f.title)
        for f in (review, card, chat)
    ]
    assert [i["ocr_pages"] for i in items] == [1, 1, 0]
    bundle = build(alice, case["id"], **BARE)
    data = download(alice, bundle)
    path = tmp_path / "bundle.pdf"
    path.write_bytes(data)
    texts = _pages(path)
    placed = {str(e["evidence_id"]): e for e in bundle["exhibits"]}
    ranges = [
        range(placed[i["id"]]["start_page"], placed[i["id"]]["start_page"] + placed[i["id"]]["page_count"])
        for i in items
    ]
    name = review.facts["reviewer_name"]
    contact = card.facts["contact"]
    [review_page], [card_page] = ranges[0], ranges[1]
    assert name in texts[review_page - 1], texts[review_page - 1]
    assert contact in texts[card_page - 1] and "PayPal" in texts[card_page - 1], texts[card_page - 1]
    assert all(name not in texts[n - 1] for n in (*ranges[1], *ranges[2]))
    assert all(contact not in texts[n - 1] for n in (*ranges[0], *ranges[2]))
    assert bundle["validation"]["pages_without_text"] == [] and bundle["validation"]["pages_awaiting_text"] == []

    with pikepdf.open(path) as pdf:
        # The PDF with its own text gets no layer; the two pictures share one copy of the OCR font.
        assert all(_layer_of(pdf.pages[n - 1]) is None for n in ranges[2])
        fonts = [
            o
            for o in pdf.objects
            if isinstance(o, pikepdf.Dictionary)
            and o.get("/BaseFont") == "/GlyphLessFont"
            and o.get("/Subtype") == "/Type0"
        ]
        assert len(fonts) == 1
        _, x0, y0, x1, y1 = placed_images(pdf.pages[review_page - 1])[0]
        height = float(pdf.pages[review_page - 1].mediabox[3])

    # Where pdftotext finds each word, it is over that word in the picture.
    tsv = alice.get(f"/api/v1/evidence/{items[0]['id']}/text", params={"format": "tsv"}).text
    found = _aligned(path, review_page, tsv, (x0, y0, x1, y1), height)
    assert len(found) >= 10 and found >= set(name.split())

    # The text is invisible: the page renders the same with its layer emptied.
    shown = _render(path, review_page, tmp_path / "with.png")
    with pikepdf.open(path) as pdf:
        _layer_of(pdf.pages[review_page - 1]).write(b"")
        pdf.save(tmp_path / "without.pdf")
    assert (
        ImageChops.difference(shown, _render(tmp_path / "without.pdf", review_page, tmp_path / "bare.png")).getbbox()
        is None
    )

    # The stored OCR result is laid again as it was: the rebuild is byte-identical.
    assert alice.post(f"/api/v1/bundles/{bundle['id']}/rebuild").status_code == 202
    again = wait_done(alice, bundle["id"])
    assert again["status"] == "done" and again["sha256"] == bundle["sha256"]


def test_a_tall_picture_split_across_pages_has_each_slice_s_words_on_its_page(alice, ocr_on, tmp_path):
    # A line just past each edge where one slice ends and the next begins: shown on one page only, yet on the other
    # page too it lies inside the paper (in the margin the slice's clip hides), where a layer laid whole would put it.
    windows = [_window(piece, 6000) for piece in plan(1000, 6000)]
    middles: list[float] = []
    for (_, end), (start, _) in zip(windows, windows[1:], strict=False):
        middles += [start - EDGE, end + EDGE]  # just before the next slice begins, just after this one ends
    words = ["ALPHA", "BRAVO", "CHARLIE", "DELTA", "ECHO", "FOXTROT", "GOLF", "HOTEL", "INDIA", "JULIET"]
    lines = {round(middle) - 20: f"{word} {n}" for n, (middle, word) in enumerate(zip(middles, words, strict=True))}
    case = alice.make_case(bates_prefix="TALL")
    item = _read(alice, case["id"], _png(_picture(lines, (1000, 6000))), "feed.png", title="Review feed")
    assert item["ocr_pages"] == 1
    bundle = build(alice, case["id"], **BARE)
    path = tmp_path / "bundle.pdf"
    path.write_bytes(download(alice, bundle))
    texts = _pages(path)
    assert len(texts) == len(windows) and bundle["validation"]["pages_without_text"] == []
    with pikepdf.open(path) as pdf:
        shown = [_rows_shown(page) for page in pdf.pages]
    assert [v for rows in shown for v in rows] == pytest.approx([v for rows in windows for v in rows], abs=0.5)
    for middle, word in zip(middles, words, strict=True):
        showing = {n for n, (low, high) in enumerate(windows) if low <= middle <= high}
        assert len(showing) == 1, (word, middle, windows)
        assert {n for n, text in enumerate(texts) if word in text} == showing, (word, texts, windows)


def test_an_image_only_pdf_and_a_tiff_get_a_layer_on_each_page_turned_as_it_is_shown(alice, ocr_on, tmp_path):
    upright = _picture({150: "Refund approved", 260: "Order 4471 Zebulon"}, (1275, 1650), px=56)
    sideways = _picture({150: "Gift card promised", 260: "Quartermaine review"}, (1650, 1275), px=56)
    pages = [
        img2pdf.convert(_png(im), layout_fun=img2pdf.get_fixed_dpi_layout_fun((150, 150)))
        for im in (upright, sideways.rotate(90, expand=True))
    ]
    out = pikepdf.new()
    for data in pages:
        with pikepdf.open(io.BytesIO(data)) as one:
            out.pages.extend(one.pages)
    out.pages[0].obj.CropBox = [20, 30, 592, 752]  # OCR read what a viewer shows: the crop box
    out.pages[1].obj.Rotate = 90  # stored turned, shown upright: OCR read it as shown
    scan = io.BytesIO()
    out.save(scan)
    frames = [_picture({100: line}, (1200, 400)) for line in ("Whitcombe statement", "Lindqvist invoice")]
    tiff = io.BytesIO()
    frames[0].save(tiff, "TIFF", save_all=True, append_images=frames[1:])
    case = alice.make_case(bates_prefix="SCAN")
    items = [
        _read(alice, case["id"], scan.getvalue(), "scan.pdf", title="Scanned letter"),
        _read(alice, case["id"], tiff.getvalue(), "fax.tiff", title="Fax"),
    ]
    assert [i["ocr_pages"] for i in items] == [2, 2]
    bundle = build(alice, case["id"], **BARE)
    path = tmp_path / "bundle.pdf"
    path.write_bytes(download(alice, bundle))
    first, second, third, fourth = _pages(path)
    assert "Refund approved" in first and "Zebulon" in first and "Quartermaine" not in first
    assert "Gift card promised" in second and "Quartermaine" in second and "Zebulon" not in second
    assert "Whitcombe" in third and "Lindqvist" not in third and "Lindqvist" in fourth and "Whitcombe" not in fourth
    assert bundle["validation"]["pages_without_text"] == []
    with pikepdf.open(path) as pdf:  # the page drawn at 300 dpi for OCR is the page as shown, turned upright
        _, x0, y0, x1, y1 = placed_images(pdf.pages[1])[0]
        height = float(pdf.pages[1].mediabox[3])
    tsv = alice.get(f"/api/v1/evidence/{items[0]['id']}/text", params={"format": "tsv", "page": 2}).text
    assert _aligned(path, 2, tsv, (x0, y0, x1, y1), height) >= {"Gift", "card", "promised", "Quartermaine", "review"}


def test_pages_whose_text_is_still_to_be_read_are_reported_as_awaiting_it(app, alice, corpus):
    case = alice.make_case(bates_prefix="WAIT")
    review = next(f for f in corpus if f.kind == "review_screenshot")
    item = alice.upload(case["id"], review.path.read_bytes(), filename=review.path.name, title="Review").json()
    assert wait_text(alice, item["id"])["text_status"] == "skipped"  # OCR is off in the suite: nothing to lay
    lease = text_runner.lease(uuid.UUID(item["id"]))
    assert lease.acquire()
    try:  # the text runner cannot take it: it stays queued while the bundle is built
        r = alice.post(f"/api/v1/evidence/{item['id']}/text/rerun", json={})
        assert r.status_code == 202, r.text
        bundle = build(alice, case["id"], **BARE)
    finally:
        lease.release()
        text_runner.wake()
    assert bundle["validation"]["pages_without_text"] == bundle["validation"]["pages_awaiting_text"] == ["WAIT000001"]
    browser = sign_in(app, alice.email)
    report = browser.get(f"/cases/{case['id']}/bundles/{bundle['id']}/validation")
    assert report.status_code == 200 and "1 of them is still being read by text recognition" in report.text
    browser.close()
    assert wait_text(alice, item["id"])["text_status"] == "skipped"
