"""Burning accepted boxes into a copy of an item, so that nothing under them survives in the copy.

- A picture: its pixels under each box are painted black (in the picture its OCR read, text/extract.py as_read) and it
  is written again as a PNG (a multi-page TIFF for several frames), with none of its metadata (EXIF, GPS, XMP).
- A PDF, or the rendering of a CSV, e-mail, JSON or text file: each page with a box is drawn at 300 dpi by pdfium,
  its boxes are painted black, and the page is rebuilt from that picture with an OCR text layer read from it, so the
  page stays searchable without the words under the boxes; its text, fonts, images, annotations and form fields are
  not carried over. Pages without a box are copied as they are, but for their annotations (links stay) and their own
  metadata. The copy is a new file: no document metadata, outline, form, attachment, script or earlier revision of
  the original is in it.
"""

import io
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
from PIL import Image, ImageDraw

from api.redaction.pages import Box, open_pdf
from api.text import ocr
from api.text.extract import as_read

DPI = 300
MAX_PIXELS = 40_000_000  # a page drawn larger than this is drawn coarser
PAD = 2  # pixels added around every box, so a glyph's edge never shows past it
PAGE_KEYS_DROPPED = ("/Metadata", "/PieceInfo", "/Thumb", "/AA")


@dataclass
class Burned:
    path: Path
    media_type: str
    pages: int
    rebuilt: list[int] = field(default_factory=list)  # 1-based pages drawn again
    ocr_text: dict[int, str] = field(default_factory=dict)  # what OCR read on each page drawn again


OcrRead = Callable[[Path, int, int, int], ocr.OcrPage]  # (picture, width, height, dpi) -> the page read


def _paint(image: Image.Image, boxes: list[Box]) -> Image.Image:
    draw = ImageDraw.Draw(image)
    width, height = image.size
    fill = 0 if image.mode in ("L", "1") else (0, 0, 0)
    for x0, y0, x1, y1 in boxes:
        draw.rectangle(
            (max(0, int(x0 * width) - PAD), max(0, int(y0 * height) - PAD),
             min(width - 1, int(x1 * width + 0.999) + PAD), min(height - 1, int(y1 * height + 0.999) + PAD)),
            fill=fill,
        )  # fmt: skip
    return image


def picture(source: Path, boxes: dict[int, list[Box]], out_dir: Path, stem: str) -> Burned:
    """A picture with its boxes (by 1-based frame) burned in, written without metadata."""
    frames = []
    with Image.open(source) as im:
        count = getattr(im, "n_frames", 1) if im.format == "TIFF" else 1
        for n in range(count):
            im.seek(n)
            frames.append(_paint(as_read(im.copy()), boxes.get(n + 1, [])))
    if len(frames) == 1:
        path = out_dir / f"{stem}.png"
        frames[0].save(path, "PNG")
        media_type = "image/png"
    else:
        path = out_dir / f"{stem}.tiff"
        frames[0].save(path, "TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate")
        media_type = "image/tiff"
    return Burned(path, media_type, len(frames), rebuilt=sorted(boxes))


def _draw_page(pdf: pdfium.PdfDocument, index: int) -> tuple[Image.Image, int]:
    page = pdf[index]
    try:
        width, height = page.get_size()
        dpi = DPI
        if width * height * (dpi / 72) ** 2 > MAX_PIXELS:
            dpi = int(72 * (MAX_PIXELS / (width * height)) ** 0.5)
        image = page.render(scale=dpi / 72, may_draw_forms=True).to_pil().convert("RGB")
    finally:
        page.close()
    return image, dpi


def _rebuilt_page(image: Image.Image, dpi: int, read: OcrRead, scratch: Path) -> tuple[pikepdf.Pdf, str]:
    """A one-page PDF of the burned picture, at its size in points, with the OCR text layer of it laid over."""
    import img2pdf  # loaded on first use, not at every process's start

    picture_path = scratch / "page.png"
    image.save(picture_path, "PNG")
    found = read(picture_path, image.width, image.height, dpi)
    layout = img2pdf.get_fixed_dpi_layout_fun((dpi, dpi))
    page_pdf = pikepdf.open(io.BytesIO(img2pdf.convert(picture_path.read_bytes(), layout_fun=layout)))
    with pikepdf.open(io.BytesIO(found.layer)) as layer:
        page_pdf.pages[0].add_overlay(layer.pages[0], pikepdf.Rectangle(*page_pdf.pages[0].mediabox))
    return page_pdf, found.text


def _clean_copied(page: pikepdf.Page) -> None:
    """A page copied as it is: its links stay; its other annotations (notes, form fields, pop-ups) and its own
    metadata do not."""
    annots = page.obj.get("/Annots")
    if annots is not None:
        links = pikepdf.Array([a for a in annots if a.get("/Subtype") == pikepdf.Name.Link])
        if len(links):
            page.obj.Annots = links
        else:
            del page.obj["/Annots"]
    for key in PAGE_KEYS_DROPPED:
        if key in page.obj:
            del page.obj[key]


def pdf(source: Path, boxes: dict[int, list[Box]], out_dir: Path, stem: str, read: OcrRead) -> Burned:
    """A PDF with its boxes (by 1-based page) burned in: those pages rebuilt as pictures with an OCR layer."""
    drawn = open_pdf(source)
    out = pikepdf.new()
    burned = Burned(out_dir / f"{stem}.pdf", "application/pdf", 0)
    try:
        with pikepdf.open(source) as original, tempfile.TemporaryDirectory(prefix="cb-redact-") as tmp:
            for index in range(len(original.pages)):
                number = index + 1
                if number not in boxes:
                    out.pages.append(original.pages[index])
                    _clean_copied(out.pages[-1])
                    continue
                image, dpi = _draw_page(drawn, index)
                page_pdf, text = _rebuilt_page(_paint(image, boxes[number]), dpi, read, Path(tmp))
                with page_pdf:
                    out.pages.append(page_pdf.pages[0])
                burned.rebuilt.append(number)
                burned.ocr_text[number] = text
            burned.pages = len(out.pages)
            # Links between pages of the original point at pages that are in the copy, or nowhere.
            out.save(burned.path, deterministic_id=True)
    finally:
        drawn.close()
        out.close()
    return burned
