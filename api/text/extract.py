"""The text of one original, by its kind: OCR for pictures (every frame of a multi-page TIFF), a PDF's own text for
pages that have it and OCR for pages that are only pictures (OCRmyPDF's skip-text rule), and the decoded text of
e-mail, text, CSV and JSON files, cut into sections that stand for pages.

Run by the text runner in a child process (api/services/text.py) under a time limit, niced, so a hostile file
costs that process, never the server; what it finds is pickled into the file it is told, as an `Extracted`.
"""

import pickle
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from api.originals import text as text_reading
from api.originals.email_parts import read_email
from api.originals.html_text import html_to_text
from api.originals.kinds import classify
from api.text import ocr

SECTION_CHARS = 4000  # a "page" of decoded text: about what a printed page holds
PDF_DPI = 300  # image-only PDF pages are drawn at this resolution for OCR
MAX_RENDER_PIXELS = 40_000_000  # a page drawn for OCR holds at most this many pixels (a huge page, drawn coarser)
MIN_TEXT_CHARS = 1  # a PDF page with at least this many characters of its own text is not OCR'd
UNDECODABLE = "the picture could not be decoded: it is damaged, or in a form this server does not read"
EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class TextLimits:
    language: str
    ocr: bool = True  # False: pictures are skipped, PDFs give only their own text
    max_chars: int = 10_000_000
    max_pages: int = 2000  # pages (PDF pages, picture frames, text sections) read
    max_ocr_pages: int = 500  # pages OCR'd
    page_timeout: float = 300.0
    max_pixels: int = 100_000_000
    nice: int = 10


@dataclass
class Page:
    source: str  # models.text.PageSource
    text: str
    width: int | None = None
    height: int | None = None
    tsv: str | None = None
    hocr: str | None = None
    layer: bytes | None = None


@dataclass
class Extracted:
    status: str  # done | skipped | failed
    pages: list[Page] = field(default_factory=list)
    engine: str | None = None
    ocr_pages: int = 0
    ocr_seconds: float = 0.0
    note: str | None = None  # why it was skipped or failed; on a done item, what was left out

    @property
    def chars(self) -> int:
        return sum(len(p.text) for p in self.pages)


def run(source: str, media_type: str, filename: str, limits: TextLimits, out: str) -> None:
    """The child process's work: extract, then pickle the outcome into `out`."""
    try:
        found = extract(Path(source), media_type, filename, limits)
    except MemoryError:
        found = Extracted("failed", note="the file needs more memory to read than the text reader may take")
    with open(out, "wb") as f:
        pickle.dump(found, f, protocol=pickle.HIGHEST_PROTOCOL)


def extract(source: Path, media_type: str, filename: str, limits: TextLimits) -> Extracted:
    kind = classify(media_type, filename)
    if kind == "image":
        return _image(source, limits)
    if kind == "pdf":
        return _pdf(source, limits)
    if kind == "native":
        return Extracted("skipped", note=f"a {media_type} file holds no text this server reads")
    return _decoded(source, kind, limits)


# Pictures ----------------------------------------------------------------------------------------------------------


def _image(source: Path, limits: TextLimits) -> Extracted:
    from PIL import Image

    if not limits.ocr:
        return Extracted("skipped", note="OCR is switched off (CASEBINDER_TEXT_OCR=false)")
    found = Extracted("done", engine=ocr.version())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(source)
            width, height = im.size
        except Image.DecompressionBombError:
            return Extracted("skipped", note="the picture claims far more pixels than this server decodes safely")
        except Exception:  # noqa: BLE001 - any decoder complaint means "not a usable picture"
            return Extracted("failed", note=UNDECODABLE)
        with im:
            if width * height > limits.max_pixels:
                return Extracted(
                    "skipped",
                    note=f"the picture is {width:,} x {height:,} pixels, more than the {limits.max_pixels:,} this "
                    "server decodes",
                )
            if min(width, height) < ocr.MIN_SIDE * 4:
                return Extracted("skipped", note=f"the picture is {width} x {height} pixels: too small to hold text")
            if max(width, height) > ocr.MAX_SIDE:
                return Extracted(
                    "skipped",
                    note=f"the picture is {width:,} x {height:,} pixels: Tesseract reads at most "
                    f"{ocr.MAX_SIDE:,} on a side",
                )
            frames = getattr(im, "n_frames", 1) if im.format == "TIFF" else 1
            dpi = _dpi(im.info.get("dpi"))
            if frames == 1 and _as_stored(im):
                try:
                    _add_page(found, _timed_read(found, source, (width, height), dpi, limits))
                    return found
                except ocr.OcrTimedOut as exc:
                    return Extracted("failed", [], found.engine, 0, found.ocr_seconds, note=str(exc))
                except ocr.OcrFailed:
                    pass  # damaged past its header, say: read below as any picture, and Pillow says what is wrong
            with tempfile.TemporaryDirectory(prefix="cb-text-") as tmp:
                for n in range(min(frames, limits.max_ocr_pages, limits.max_pages)):
                    try:
                        im.seek(n)
                        frame = as_read(im)
                        path = Path(tmp) / "frame.tiff"
                        _save_for_ocr(frame, path)
                    except Exception:  # noqa: BLE001 - a damaged frame ends the read; what came before stays
                        if n == 0:
                            return Extracted("failed", note=UNDECODABLE)
                        found.note = f"frame {n + 1} could not be decoded, so the frames from there on were not read"
                        break
                    failed = _ocr_page(found, path, frame.size, dpi, limits)
                    if failed:
                        return failed
            if frames > len(found.pages) and found.note is None:
                found.note = f"only the first {len(found.pages)} of {frames} frames were read (the page limit)"
    return found


def _as_stored(im) -> bool:
    """Whether Tesseract reads the stored file as it looks: a JPEG or PNG in grey or RGB, upright (no EXIF
    rotation), with nothing transparent. Then it is given the file itself: decoding it here and encoding it again
    took longer than the OCR on a phone photo, for the same pixels."""
    if im.format not in ("JPEG", "MPO", "PNG") or im.mode not in ("RGB", "L") or "transparency" in im.info:
        return False  # MPO above: a camera's JPEG with a second picture, which Tesseract passes over
    try:
        orientation = im.getexif().get(EXIF_ORIENTATION, 1)  # a PNG's may follow its pixels: then they are decoded
    except Exception:  # noqa: BLE001 - damaged: read the way that says what is wrong with it
        return False
    return orientation not in range(2, 9)  # the ones ImageOps.exif_transpose turns


def _save_for_ocr(im, path: Path) -> None:
    """A picture written for Tesseract to read, as an uncompressed TIFF: compressing it (PNG) took longer than
    the OCR, and the file lives for one page."""
    im.save(path, "TIFF")


def as_read(im):
    """A picture (one frame) as its OCR reads it: upright (its EXIF rotation applied), transparency on white,
    palettes and odd modes as RGB. Redaction burns its boxes into the same picture, so they lie where the words
    were read (api/redaction/burn.py)."""
    from PIL import Image, ImageOps

    im = ImageOps.exif_transpose(im)
    if im.mode in ("RGBA", "LA", "P", "PA"):
        im = im.convert("RGBA")
        flat = Image.new("RGB", im.size, "white")
        flat.paste(im, mask=im.getchannel("A"))
        return flat
    if im.mode not in ("RGB", "L", "1"):
        return im.convert("RGB")
    return im


def _dpi(value) -> int:
    """The resolution a picture says it has, where it is plausible; else 300 (Tesseract's assumption for a scan)."""
    try:
        dpi = round(float(value[0]))
    except (TypeError, ValueError, IndexError):
        return 300
    return dpi if 70 <= dpi <= 1200 else 300


def _ocr_page(found: Extracted, path: Path, size: tuple[int, int], dpi: int, limits: TextLimits) -> Extracted | None:
    """OCR one page into `found`; a failed Extracted (keeping the pages read so far) when Tesseract failed."""
    try:
        page = _timed_read(found, path, size, dpi, limits)
    except ocr.OcrFailed as exc:
        return Extracted("failed", found.pages, found.engine, found.ocr_pages, found.ocr_seconds, note=str(exc))
    _add_page(found, page)
    return None


def _timed_read(found: Extracted, path: Path, size: tuple[int, int], dpi: int, limits: TextLimits) -> ocr.OcrPage:
    """OCR one picture, its time added to `found` whether it was read or not."""
    started = time.perf_counter()
    try:
        return ocr.read(
            path,
            language=limits.language,
            width=size[0],
            height=size[1],
            dpi=dpi,
            timeout=limits.page_timeout,
            nice=limits.nice,
        )
    finally:
        found.ocr_seconds += time.perf_counter() - started


def _add_page(found: Extracted, page: ocr.OcrPage) -> None:
    found.ocr_pages += 1
    found.pages.append(Page("ocr", page.text, page.width, page.height, page.tsv, page.hocr, page.layer))


# PDFs --------------------------------------------------------------------------------------------------------------


def _pdf(source: Path, limits: TextLimits) -> Extracted:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(source))
    except pdfium.PdfiumError as exc:
        if exc.err_code == pdfium.raw.FPDF_ERR_PASSWORD:
            return Extracted("skipped", note="the PDF is encrypted with a password, so its text cannot be read")
        return Extracted("failed", note="the PDF is damaged and could not be opened")
    found = Extracted("done", engine="pdfium")
    notes = []
    try:
        count = len(pdf)
        with tempfile.TemporaryDirectory(prefix="cb-text-") as tmp:
            for n in range(min(count, limits.max_pages)):
                text = _page_text(pdf, n)
                if text is None:
                    found.pages.append(Page("embedded", ""))
                    notes.append(f"page {n + 1} could not be read")
                    continue
                if len(text.strip()) >= MIN_TEXT_CHARS or not limits.ocr:
                    found.pages.append(Page("embedded", text))
                    continue
                if found.ocr_pages >= limits.max_ocr_pages:
                    found.pages.append(Page("embedded", ""))
                    continue
                path = Path(tmp) / "page.tiff"
                size = _draw(pdf, n, path)
                if size is None:
                    found.pages.append(Page("embedded", ""))
                    notes.append(f"page {n + 1} could not be drawn for OCR")
                    continue
                found.engine = f"pdfium + {ocr.version()}"
                failed = _ocr_page(found, path, size, PDF_DPI, limits)
                if failed:
                    return failed
    finally:
        pdf.close()
    textless = count - found.ocr_pages - sum(1 for p in found.pages if p.source == "embedded" and p.text.strip())
    if count > limits.max_pages:
        notes.append(f"only the first {limits.max_pages} of {count} pages were read (the page limit)")
    elif found.ocr_pages >= limits.max_ocr_pages and textless > 0:
        notes.append(f"OCR stopped after {limits.max_ocr_pages} pages (the OCR page limit)")
    found.note = "; ".join(notes) or None
    return found


def _page_text(pdf, n: int) -> str | None:
    import pypdfium2 as pdfium

    try:
        page = pdf[n]
        textpage = page.get_textpage()
        try:
            return textpage.get_text_bounded().replace("\r\n", "\n").replace("\r", "\n")
        finally:
            textpage.close()
            page.close()
    except (pdfium.PdfiumError, ValueError):
        return None


def _draw(pdf, n: int, path: Path) -> tuple[int, int] | None:
    """Page n drawn at PDF_DPI (coarser for a huge page) into `path` (see `_save_for_ocr`); its pixel size, or None."""
    import pypdfium2 as pdfium

    try:
        page = pdf[n]
        width, height = page.get_size()  # points, as displayed (rotation applied)
        if width <= 0 or height <= 0:
            return None
        scale = PDF_DPI / 72
        if width * height * scale * scale > MAX_RENDER_PIXELS:
            scale = (MAX_RENDER_PIXELS / (width * height)) ** 0.5
        image = page.render(scale=scale, may_draw_forms=True, grayscale=True).to_pil()
        page.close()
    except (pdfium.PdfiumError, ValueError, MemoryError):
        return None
    _save_for_ocr(image, path)
    return image.size


# Decoded text ------------------------------------------------------------------------------------------------------


def _decoded(source: Path, kind: str, limits: TextLimits) -> Extracted:
    data, size = text_reading.read_head(source, limits.max_chars * text_reading.BYTES_PER_CHAR)
    cut_short = size > len(data)
    try:
        if kind == "email":
            text = _email_text(data)
        else:
            text, _ = text_reading.decode(data, cut_short)
    except Exception:  # noqa: BLE001 - a file that does not parse as its kind has no text to give
        return Extracted("failed", note=text_reading.UNREADABLE)
    text = text.replace("\r\n", "\n").replace("\x00", "")
    notes = []
    if len(text) > limits.max_chars or cut_short:
        text = text[: limits.max_chars]
        notes.append(f"only the first {limits.max_chars:,} characters were read (the text limit)")
    sections = _sections(text)
    if len(sections) > limits.max_pages:
        sections = sections[: limits.max_pages]
        notes.append(f"only the first {limits.max_pages} sections of {SECTION_CHARS:,} characters were read")
    return Extracted("done", [Page("decoded", s) for s in sections], engine="decoded", note="; ".join(notes) or None)


def _email_text(data: bytes) -> str:
    parts = read_email(data)
    lines = [f"{name}: {value}" for name, value in parts.headers]
    for part in parts.parts:
        lines += ["", html_to_text(part.body) if part.subtype == "html" else part.body]
    if parts.attachments:
        lines += ["", "Attachments: " + ", ".join(parts.attachments)]
    return "\n".join(lines)


def _sections(text: str) -> list[str]:
    """Text cut into sections of about SECTION_CHARS characters, at a line's end where one is near."""
    sections, start = [], 0
    while start < len(text):
        end = min(len(text), start + SECTION_CHARS)
        if end < len(text):
            newline = text.rfind("\n", start + SECTION_CHARS // 2, end)
            if newline > start:
                end = newline + 1
        sections.append(text[start:end])
        start = end
    return sections or [""]
