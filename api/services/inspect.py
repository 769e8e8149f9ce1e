"""What a file is, judged from its bytes alone: media type, page count, displayed image size."""

import warnings
from dataclasses import dataclass

import magic
import pikepdf
from PIL import Image

from api.storage import StagedBlob

# EXIF orientations 5-8 turn the image a quarter, so viewers show it with width and height swapped.
_QUARTER_TURNS = {5, 6, 7, 8}


@dataclass
class Inspection:
    media_type: str
    page_count: int | None = None
    width: int | None = None
    height: int | None = None
    note: str | None = None


def sniff_media_type(head: bytes) -> str:
    if not head:
        return "application/x-empty"
    return magic.from_buffer(head, mime=True) or "application/octet-stream"


def inspect_blob(blob: StagedBlob, *, max_image_pixels: int) -> Inspection:
    """Sniff the type from the bytes and, for images and PDFs, read sizes without decoding pixel data."""
    result = Inspection(media_type=sniff_media_type(blob.head))
    if result.media_type.startswith("image/"):
        _inspect_image(blob, result, max_image_pixels)
    elif result.media_type == "application/pdf":
        _inspect_pdf(blob, result)
    return result


def _inspect_image(blob: StagedBlob, result: Inspection, max_pixels: int) -> None:
    with blob.open() as f, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            # Image.open reads the header only; pixel data is never decoded here.
            with Image.open(f) as im:
                width, height = im.size
                if width * height > max_pixels:
                    result.note = (
                        f"image dimensions refused: the header claims {width:,} x {height:,} pixels, "
                        f"over the limit of {max_pixels:,}; the file is stored unchanged"
                    )
                    return
                orientation = im.getexif().get(0x0112, 1)
                if orientation in _QUARTER_TURNS:
                    width, height = height, width
                result.width, result.height = width, height
                result.page_count = getattr(im, "n_frames", 1) if im.format == "TIFF" else 1
        except Image.DecompressionBombError as exc:
            result.note = f"image dimensions refused: {exc}; the file is stored unchanged"
        except Exception as exc:  # noqa: BLE001 - any decoder complaint means "not a readable image"
            result.note = f"image header could not be read ({type(exc).__name__}); the file is stored unchanged"


def _inspect_pdf(blob: StagedBlob, result: Inspection) -> None:
    with blob.open() as f:
        try:
            with pikepdf.open(f) as pdf:
                result.page_count = len(pdf.pages)
                # qpdf repairs damage (a looping xref chain, a broken table) as it reads: say so.
                if repairs := [_qpdf_message(w) for w in pdf.get_warnings()]:
                    result.note = (
                        f"PDF needed repair to be read; pages were counted after it ({'; '.join(repairs)[:300]})"
                    )
        except pikepdf.PasswordError:
            result.note = "PDF is encrypted with a password; pages were not counted"
        except pikepdf.PdfError as exc:
            result.note = f"PDF could not be parsed ({_qpdf_message(str(exc))[:200]}); the file is stored unchanged"


def _qpdf_message(text: str) -> str:
    """qpdf's message without its 'stream <file object>:' prefix, which names a server path."""
    return text.split(": ", 1)[1] if text.startswith("stream <") and ": " in text else text
