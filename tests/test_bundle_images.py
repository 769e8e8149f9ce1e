"""Tall, wide and tiny images: real uploads made with Pillow, real builds, the PDFs opened with pikepdf, their text
read with pdftotext and their pages rendered with pdftoppm, where the printed size of the screenshot's text is
measured in pixels at a known resolution."""

import io
import re
import subprocess
from pathlib import Path

import pikepdf
import pytest
from pikepdf import Matrix
from PIL import Image, ImageDraw, ImageFont

from api.bundle.image_pages import plan
from api.bundle.spec import CONTINUED_BAND, READABLE_DPI, SLICE_OVERLAP, content_box
from api.bundle.stamp import FONT_PATHS
from tests.helpers import BARE, build, download, placed_images

pytestmark = [pytest.mark.slow, pytest.mark.engine]

DPI = 100  # pages are rendered at this resolution to measure them
FLOOR_PT = 6.5  # the smallest text a reader is asked to read
LINE = "REVIEW 0000 EXCEEDED MY EXPECTATIONS HONEST"  # capitals only: its ink is exactly its cap height


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(next(p for p in FONT_PATHS if p.exists())), size)


def _tall_screenshot(width: int = 1080, height: int = 12000, px: int = 28) -> bytes:
    """A phone's full-page capture of a review feed: a line of text every 80 px at a normal 2x screen size
    (14 CSS px), numbered, with a black bar of 24 px beside each line."""
    im = Image.new("L", (width, height), 255)
    draw, font = ImageDraw.Draw(im), _font(px)
    for n, y in enumerate(range(40, height - 60, 80)):
        draw.text((140, y), LINE.replace("0000", f"{n:04d}"), fill=0, font=font)
        draw.rectangle([40, y, 100, y + 23], fill=0)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def _wide_screenshot(width: int = 12000, height: int = 1080) -> bytes:
    """A very wide capture (a spreadsheet row or a timeline): a 24 px wide black bar every 300 px."""
    im = Image.new("L", (width, height), 255)
    draw, font = ImageDraw.Draw(im), _font(28)
    for n, x in enumerate(range(60, width - 60, 300)):
        draw.rectangle([x, 100, x + 23, 900], fill=0)
        draw.text((x + 40, 500), f"COL {n:03d}", fill=0, font=font)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def _png(size: tuple[int, int], colour=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    """(start, length) of each run of True."""
    runs, start = [], None
    for i, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i - start))
            start = None
    return runs


def _render(pdf_path: Path, page: int, out: Path) -> Image.Image:
    """Page `page` (1-based) as a greyscale image at DPI."""
    prefix = out / f"page-{page}"
    pages = ["-f", str(page), "-l", str(page)]
    subprocess.run(["pdftoppm", "-r", str(DPI), "-gray", "-png", "-singlefile", *pages, pdf_path, prefix], check=True)
    return Image.open(f"{prefix}.png").convert("L")


def _ink_rows(im: Image.Image, x0: int, x1: int) -> list[tuple[int, int]]:
    """Runs of rows that hold dark pixels between columns x0 and x1."""
    width, height = im.size
    pixels = im.load()
    return _runs([any(pixels[x, y] < 128 for x in range(max(0, x0), min(width, x1))) for y in range(height)])


def _inside(runs: list[tuple[int, int]], top: float, bottom: float) -> list[int]:
    """Lengths of the runs wholly between rows top and bottom: not those a slice's edges cut, nor stamps, nor notes."""
    return [length for start, length in runs if start > top and start + length < bottom]


def _words(pdf_path: Path) -> list[list[tuple[str, float, float, float, float]]]:
    """pdftotext's words of every page, each with its box in points from the page's top left."""
    html = subprocess.run(["pdftotext", "-bbox", pdf_path, "-"], check=True, capture_output=True, text=True).stdout
    pages = []
    for page in html.split("<page ")[1:]:
        pages.append(
            [
                (word, float(x0), float(y0), float(x1), float(y1))
                for x0, y0, x1, y1, word in re.findall(
                    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', page
                )
            ]
        )
    return pages


def _slice(page: pikepdf.Page) -> tuple[tuple[float, float, float, float], Matrix]:
    """The clip rectangle (x0, y0, x1, y1) and image matrix a slice's page draws its image with."""
    clip, matrix, last = None, None, []
    for operands, operator in pikepdf.parse_content_stream(page):
        op = str(operator)
        if op == "re":
            last = [float(v) for v in operands]
        elif op == "W" and last:
            x, y, w, h = last
            clip = (x, y, x + w, y + h)
        elif op == "cm" and clip is not None and matrix is None:
            matrix = Matrix(*(float(v) for v in operands))
    assert clip is not None and matrix is not None, "the page clips its image to a slice"
    return clip, matrix


def _text(words: list[tuple]) -> str:
    return " ".join(w[0] for w in words)


@pytest.mark.parametrize(
    "size,pages,landscape",
    [
        ((1080, 2400), 1, False),  # one phone screen: whole, its 36 px text at 10 pt
        ((1290, 2796), 1, False),  # the tallest phone screen: whole, just at the floor
        ((2550, 3300), 1, False),  # a letter page scanned at 300 dpi: shrunk a little, not cut
        ((5100, 6600), 1, False),  # the same at 600 dpi
        ((4000, 3000), 1, True),  # a photograph
        ((3000, 2900), 1, True),  # a squarish photograph, finer than the floor: splitting would gain too little
        ((1080, 3000), 3, False),  # three phone screens in one capture
        ((1080, 12000), 10, False),  # the review feed of the issue
        ((2880, 12000), 7, True),  # a 2x laptop capture: portrait would print it finer than the floor
        ((12000, 1080), 8, True),  # very wide: vertical slices
        ((1, 1), 1, False),
        ((10, 4000), 7, False),
        ((1, 100_000_000), 100, False),  # a strip: printed smaller, on no more than 100 pages
    ],
)
def test_which_images_are_split(size, pages, landscape):
    placed = plan(*size)
    assert len(placed) == pages and {p.landscape for p in placed} == {landscape}
    if pages > 1:
        assert [(p.part, p.parts) for p in placed] == [(k, pages) for k in range(1, pages + 1)]
        assert placed[0].scale >= 72 / READABLE_DPI or pages == 100


def test_a_tall_screenshot_is_split_at_page_width_and_its_text_prints_readable(alice, tmp_path):
    case = alice.make_case(bates_prefix="TALL")
    content = _tall_screenshot()
    alice.upload(case["id"], content, filename="feed.png", kind="review_screenshot", title="Review feed")
    bundle = build(alice, case["id"], **BARE)
    data = download(alice, bundle)
    path = tmp_path / "bundle.pdf"
    path.write_bytes(data)
    count = bundle["page_count"]
    assert count == bundle["exhibits"][0]["page_count"] and 8 <= count <= 12  # 12000 px at 0.5 pt each, in slices

    with pikepdf.open(path) as pdf:
        images, clips = set(), []
        covered = []  # the rows of the screenshot each page shows
        for page in pdf.pages:
            assert [float(v) for v in page.mediabox] == [0, 0, 612, 792]  # portrait letter
            [(image, x0, y0, x1, y1)] = placed_images(page)
            images.add(image.objgen)
            x_min, y_min, x_max, y_max = content_box(False)
            assert (x0, x1) == pytest.approx((x_min, x_max), abs=0.05)  # at the page's full width
            scale = (x1 - x0) / 1080
            clip, _ = _slice(page)
            clips.append(clip)
            # The slice sits inside the content area, below and above the bands the "continued" notes use.
            assert clip[1] >= y_min + CONTINUED_BAND - 0.05 and clip[3] <= y_max - CONTINUED_BAND + 0.05
            top_row = (y1 - clip[3]) / scale
            covered.append((top_row, top_row + (clip[3] - clip[1]) / scale))
        assert len(images) == 1  # one image, drawn by every page: embedded once, never cut up or encoded again
        assert int(image.Width) == 1080 and int(image.Height) == 12000
    assert covered[0][0] == pytest.approx(0, abs=0.01) and covered[-1][1] == pytest.approx(12000, abs=0.01)
    for (_, end), (start, _) in zip(covered, covered[1:], strict=False):
        assert end - start == pytest.approx(SLICE_OVERLAP / scale, abs=0.01)  # consecutive slices overlap
    assert scale >= 72 / READABLE_DPI

    words = _words(path)
    for k, page in enumerate(words, 1):
        text = _text(page)
        assert f"part {k} of {count}" in text, (k, text)
        assert f"TALL{k:06d}" in text and f"Page {k} of {count}" in text
        assert ("Continued from the previous page" in text) == (k > 1)
        assert ("Continued on the next page" in text) == (k < count)
        clip = clips[k - 1]
        for word, wx0, wy0, wx1, wy1 in page:  # no stamp or note is printed over the image
            bottom, top = 792 - wy1, 792 - wy0
            overlaps = wx0 < clip[2] and wx1 > clip[0] and bottom < clip[3] and top > clip[1]
            assert not overlaps, (k, word)

    # What a reader sees: each line of the screenshot's text (28 px capitals, 20 px tall) printed about 10 pt tall,
    # measured on the rendered page; the 24 px bars beside them 12 pt.
    source = Image.open(io.BytesIO(content)).convert("L")
    text_rows = {length for _, length in _ink_rows(source.crop((130, 0, 1080, 400)), 0, 950)}
    assert len(text_rows) == 1
    [cap] = text_rows
    for number in (1, count // 2, count):
        page = _render(path, number, tmp_path)
        clip = clips[number - 1]
        top, bottom = (792 - clip[3]) * DPI / 72 + 2, (792 - clip[1]) * DPI / 72 - 2

        left = round((x_min + 140 * scale) * DPI / 72)
        lines = _inside(_ink_rows(page, left, left + round(600 * scale * DPI / 72)), top, bottom)
        assert len(lines) >= (2 if number == count else 5), lines
        for length in lines:
            assert length == pytest.approx(cap * scale * DPI / 72, abs=2)
            assert length >= FLOOR_PT * DPI / 72
        bar_left = round((x_min + 50 * scale) * DPI / 72)
        bars = _inside(_ink_rows(page, bar_left, bar_left + 5), top, bottom)
        assert bars and all(length == pytest.approx(24 * scale * DPI / 72, abs=2) for length in bars)


def test_a_very_wide_image_goes_landscape_in_vertical_slices(alice, tmp_path):
    case = alice.make_case(bates_prefix="WIDE")
    alice.upload(case["id"], _wide_screenshot(), filename="row.png", kind="review_screenshot", title="Wide capture")
    bundle = build(alice, case["id"], **BARE)
    path = tmp_path / "bundle.pdf"
    path.write_bytes(download(alice, bundle))
    count = bundle["page_count"]
    assert 6 <= count <= 10
    with pikepdf.open(path) as pdf:
        starts = []
        for page in pdf.pages:
            assert [float(v) for v in page.mediabox] == [0, 0, 792, 612]  # landscape letter
            [(image, x0, y0, x1, y1)] = placed_images(page)
            x_min, y_min, x_max, y_max = content_box(True)
            assert y1 - y0 == pytest.approx(y_max - y_min - 2 * CONTINUED_BAND, abs=0.05)  # at the page's height
            scale = (y1 - y0) / 1080
            clip, _ = _slice(page)
            assert clip[0] == pytest.approx(x_min, abs=0.05) and clip[2] <= x_max + 0.05
            starts.append(((clip[0] - x0) / scale, (clip[2] - x0) / scale))
        assert starts[0][0] == pytest.approx(0, abs=0.01) and starts[-1][1] == pytest.approx(12000, abs=0.01)
    assert scale >= 72 / READABLE_DPI
    words = _words(path)
    for k, page in enumerate(words, 1):
        assert f"part {k} of {count}" in _text(page)
    # The 24 px bars print at the slice's scale, measured across the rendered page.
    page = _render(path, 2, tmp_path)
    row = round((612 - (y1 - 300 * scale)) * DPI / 72)  # through the bars, below the labels
    pixels = page.load()
    bars = _runs([pixels[x, row] < 128 for x in range(page.size[0])])
    assert len(bars) >= 4
    for _, length in bars[1:-1]:
        assert length == pytest.approx(24 * scale * DPI / 72, abs=2)


def test_tiny_images_render(alice):
    case = alice.make_case(bates_prefix="TINY")
    for name, size in (("dot.png", (1, 1)), ("strip.png", (10, 4000)), ("line.png", (4000, 3))):
        r = alice.upload(case["id"], _png(size), filename=name, kind="listing_snapshot", title=name)
        assert r.status_code == 201, r.text
    bundle = build(alice, case["id"], **BARE)
    placed = bundle["exhibits"]
    # A single pixel on its own page at a point per pixel; a 10 x 4000 strip and a 4000 x 3 line printed at a point
    # per pixel too, so split like any image too long for a page at that size.
    assert placed[0]["page_count"] == 1
    assert placed[1]["page_count"] == 7 and placed[2]["page_count"] == 6
    with pikepdf.open(io.BytesIO(download(alice, bundle))) as pdf:
        [(image, x0, y0, x1, y1)] = placed_images(pdf.pages[0])
        assert (int(image.Width), int(image.Height)) == (1, 1)
        assert (x1 - x0, y1 - y0) == pytest.approx((1, 1), abs=0.01)
        assert (x0 + x1) / 2 == pytest.approx(306, abs=0.05)  # centred in the content area
        strip = pdf.pages[placed[1]["start_page"] - 1 : placed[1]["start_page"] - 1 + placed[1]["page_count"]]
        assert len({placed_images(page)[0][0].objgen for page in strip}) == 1
        for page in strip:
            [(image, x0, y0, x1, y1)] = placed_images(page)
            assert (x1 - x0, y1 - y0) == pytest.approx((10, 4000), abs=0.01)
        line = pdf.pages[placed[2]["start_page"] - 1]
        [(image, x0, y0, x1, y1)] = placed_images(line)
        assert float(line.mediabox[2]) == 792 and (x1 - x0, y1 - y0) == pytest.approx((4000, 3), abs=0.01)


def test_a_split_jpeg_keeps_its_bytes_is_stored_once_and_turns_as_its_exif_says(alice, tmp_path):
    # Shown 900 x 9000 with a 30 px band every 90 px; stored on its side, with the EXIF orientation that turns it.
    shown = Image.new("RGB", (900, 9000), "white")
    draw = ImageDraw.Draw(shown)
    for y in range(30, 9000, 90):
        draw.rectangle([30, y, 870, y + 29], fill=(20, 60, 120))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    buf = io.BytesIO()
    shown.rotate(90, expand=True).save(buf, "JPEG", quality=85, exif=exif)
    content = buf.getvalue()
    case = alice.make_case()
    alice.upload(case["id"], content, filename="capture.jpg", kind="review_screenshot", title="Capture")
    bundle = build(alice, case["id"], **BARE)
    assert bundle["page_count"] > 5
    data = download(alice, bundle)
    path = tmp_path / "bundle.pdf"
    path.write_bytes(data)
    with pikepdf.open(path) as pdf:
        drawn = {placed_images(page)[0][0].objgen for page in pdf.pages}
        [objgen] = drawn
        assert pdf.get_object(objgen).read_raw_bytes() == content
        [(image, x0, y0, x1, y1)] = placed_images(pdf.pages[0])
        assert float(pdf.pages[0].mediabox[3]) == 792 and (x1 - x0) / (y1 - y0) == pytest.approx(0.1)
        clip, _ = _slice(pdf.pages[0])
    assert len(data) < len(content) * 1.5  # the image once, not once a page
    scale = (x1 - x0) / 900
    page = _render(path, 1, tmp_path)
    middle = round((x0 + x1) / 2 * DPI / 72)
    top, bottom = (792 - clip[3]) * DPI / 72 + 2, (792 - clip[1]) * DPI / 72 - 2
    bands = _inside(_ink_rows(page, middle, middle + 3), top, bottom)
    assert len(bands) >= 5  # upright: the bands run across the page
    assert all(length == pytest.approx(30 * scale * DPI / 72, abs=2) for length in bands)
