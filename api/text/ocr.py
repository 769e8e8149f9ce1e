"""Tesseract, through pytesseract: one run per picture gives its plain text, its word boxes (TSV and hOCR) and a
text-only PDF page, the invisible layer that lies over the picture in a bundle (the way OCRmyPDF lays it)."""

import functools
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytesseract
from pytesseract.pytesseract import run_tesseract

# Tesseract reads pictures no larger than this on a side (leptonica's and its own limit).
MAX_SIDE = 32767
MIN_SIDE = 3  # smaller than this, Tesseract refuses the picture ("image too small to scale")


class OcrFailed(Exception):
    """Tesseract ran and failed, or ran past its time: args[0] says so in words."""


class OcrTimedOut(OcrFailed):
    """Tesseract ran past its time."""


@dataclass
class OcrPage:
    text: str
    tsv: str
    hocr: str
    layer: bytes  # a one-page PDF of invisible text, its page the picture's size at `dpi`
    width: int
    height: int


@functools.cache
def version() -> str:
    """'tesseract 5.3.0'."""
    return f"tesseract {pytesseract.get_tesseract_version()}"


@functools.cache
def installed_languages() -> frozenset[str]:
    return frozenset(lang for lang in pytesseract.get_languages(config="") if lang != "osd")


def missing_languages(language: str) -> list[str]:
    """The languages of a Tesseract language string ("eng+chi_sim") that are not installed."""
    return [lang for lang in language.split("+") if lang not in installed_languages()]


def read(image: Path, *, language: str, width: int, height: int, dpi: int, timeout: float, nice: int) -> OcrPage:
    """OCR one picture (a JPEG, PNG or TIFF: a file Tesseract opens) of width x height pixels, at niceness `nice`."""
    nice = max(0, nice - os.nice(0))  # a niced reader process has niced Tesseract already: it inherits that
    # Tesseract on one core: its OpenMP threads spin while they wait for each other, so on a small server they took
    # the cores requests need and read a page slower than one thread does (unless the operator says otherwise). Set
    # here, where every reading of a picture goes (a text reader's, a redaction's rebuilt page), and inherited.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    with tempfile.TemporaryDirectory(prefix="cb-ocr-") as tmp:
        base = os.path.join(tmp, "out")
        # Read through a link of its own: hOCR names the file it read, and the original's path in the evidence store
        # is no business of whoever reads the word boxes.
        picture = os.path.join(tmp, "picture")
        os.symlink(os.path.abspath(image), picture)
        try:
            run_tesseract(
                picture,
                base,
                extension="txt hocr pdf",
                lang=language,
                config=f"--dpi {dpi} -c tessedit_create_tsv=1 -c textonly_pdf=1",
                nice=nice,
                timeout=max(1, round(timeout)),
            )
        except pytesseract.TesseractError as exc:
            raise OcrFailed(f"Tesseract could not read the picture: {str(exc.message).strip()[:300]}") from exc
        except RuntimeError as exc:  # pytesseract's own timeout (TesseractError is a RuntimeError too)
            raise OcrTimedOut(f"Tesseract ran past its {timeout:.0f} s limit on one page") from exc
        out = Path(tmp)
        return OcrPage(
            text=(out / "out.txt").read_text("utf-8", errors="replace").replace("\f", ""),
            tsv=(out / "out.tsv").read_text("utf-8", errors="replace"),
            hocr=(out / "out.hocr").read_text("utf-8", errors="replace"),
            layer=(out / "out.pdf").read_bytes(),
            width=width,
            height=height,
        )
