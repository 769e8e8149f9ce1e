"""The release check: before a redacted copy leaves, read it back every way it can be read and refuse it when a
string that was redacted is still in it.

It reads the text of every page (pdfium), what OCR reads on every page drawn again and on every picture, the stored
OCR text of pages copied as they were that are pictures; of a PDF, every string of every object (metadata,
annotations, form fields, outlines) and every stream uncompressed but pictures and font programs (in UTF-8, UTF-16
and Latin-1); of a picture, its raw bytes. A number of which FRCP 5.2 lets the last four digits stay is looked for
whole, its digits with any spaces or dashes between them; any other string with its case and spacing set aside.
"""

import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pikepdf

from api.redaction.pages import open_pdf

NUMBER_RULES = {"ssn", "tin", "card", "account", "paypal_account", "birth_date"}
MIN_CHARS = 3  # a string shorter than this (a drawn box over one letter) is not looked for: it is everywhere
# The file's raw bytes are compressed, so random: only strings at least this long are looked for in them whole (a
# three-letter term turns up in a few MB of noise by chance; eight characters, never).
RAW_MIN_CHARS = 8
FONT_FILES = ("/FontFile", "/FontFile2", "/FontFile3")


@dataclass(frozen=True)
class Wanted:
    """A string that must not be found, and the redaction it comes from. What a detector found is looked for
    everywhere; what a box drawn by hand covered only on its own page (a box over "5 stars" on one page says nothing
    of the words elsewhere)."""

    text: str
    rule: str
    page: int
    redaction_id: str
    everywhere: bool = True


@dataclass
class Leak:
    wanted: Wanted
    where: str  # "page 3 text", "page 3 OCR", "file bytes"


@dataclass
class Checked:
    pages_read: int = 0
    pictures_read: int = 0
    streams_read: int = 0
    strings: int = 0
    leaks: list[Leak] = field(default_factory=list)

    def summary(self) -> dict:
        return {
            "pages_read": self.pages_read,
            "pictures_read": self.pictures_read,
            "streams_read": self.streams_read,
            "strings_looked_for": self.strings,
            "found": [
                {
                    "page": leak.wanted.page,
                    "rule": leak.wanted.rule,
                    "redaction_id": leak.wanted.redaction_id,
                    "where": leak.where,
                }
                for leak in self.leaks
            ],  # fmt: skip
        }


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text).casefold()


def _number_pattern(text: str) -> re.Pattern | None:
    digits = [c for c in text if c.isdigit()]
    if len(digits) < MIN_CHARS:
        return None
    return re.compile(r"(?<!\d)" + r"[\s\-./]?".join(digits) + r"(?!\d)")


class Matcher:
    def __init__(self, wanted: list[Wanted]):
        self.numbers = [(w, p) for w in wanted if w.rule in NUMBER_RULES if (p := _number_pattern(w.text))]
        self.words = [(w, _squeezed(w.text)) for w in wanted if w.rule not in NUMBER_RULES]
        self.words = [(w, s) for w, s in self.words if len(s) >= MIN_CHARS]

    def __len__(self) -> int:
        return len(self.numbers) + len(self.words)

    def found(self, text: str, page: int | None = None) -> list[Wanted]:
        """What is in a text: of a page (`page`), or of anything else in the file (then only what is looked for
        everywhere)."""
        numbers = [(w, p) for w, p in self.numbers if w.everywhere or w.page == page]
        words = [(w, s) for w, s in self.words if w.everywhere or w.page == page]
        out = [w for w, p in numbers if p.search(text)]
        if words:
            squeezed = _squeezed(text)
            out += [w for w, s in words if s in squeezed]
        return out

    def long_only(self) -> "Matcher":
        long = Matcher([])
        long.numbers = [(w, p) for w, p in self.numbers if sum(c.isdigit() for c in w.text) >= RAW_MIN_CHARS]
        long.words = [(w, s) for w, s in self.words if len(s) >= RAW_MIN_CHARS]
        return long

    def found_in_bytes(self, data: bytes) -> list[Wanted]:
        """What is in raw bytes, read as UTF-8, UTF-16 and Latin-1. Words are looked for as they are written (only
        their case set aside): squeezing the spaces out of megabytes of a file took longer than all the rest."""
        numbers = [(w, p) for w, p in self.numbers if w.everywhere]
        words = [(w, " ".join(w.text.split()).casefold()) for w, _ in self.words if w.everywhere]
        out: list[Wanted] = []
        for text in (data.decode("utf-8", errors="ignore"), _utf16(data), data.decode("latin-1")):
            out += [w for w, p in numbers if w not in out and p.search(text)]
            if words:
                folded = text.casefold()
                out += [w for w, word in words if w not in out and word in folded]
        return out


def _utf16(data: bytes) -> str:
    """The bytes read as UTF-16 from both even and odd offsets: a string may start at either."""
    return data.decode("utf-16-be", errors="ignore") + "\n" + data[1:].decode("utf-16-be", errors="ignore")


def _strings(obj, depth: int = 0):
    """The strings in an object's dictionaries and arrays (indirect objects are visited on their own)."""
    if isinstance(obj, pikepdf.String):
        yield str(obj)
    elif depth < 32 and isinstance(obj, pikepdf.Dictionary | pikepdf.Array):
        values = obj.values() if isinstance(obj, pikepdf.Dictionary) else obj
        for value in values:
            if isinstance(value, pikepdf.Object) and not value.is_indirect:
                yield from _strings(value, depth + 1)


def _objects(doc: pikepdf.Pdf, matcher: Matcher, checked: Checked, note) -> None:
    """Every string of the file (metadata, annotations, form fields, outlines), and every stream uncompressed but
    pictures (read by OCR) and embedded font programs (binary; the text they draw is read from the pages)."""
    fonts: set[tuple[int, int]] = set()
    for obj in doc.objects:
        if isinstance(obj, pikepdf.Dictionary) and obj.get("/Type") == pikepdf.Name.FontDescriptor:
            fonts.update(obj[key].objgen for key in FONT_FILES if key in obj)
    for obj in doc.objects:
        if isinstance(obj, pikepdf.Stream):
            for text in _strings(obj.stream_dict):
                note(matcher.found(text), "a string in the file")
            if obj.get("/Subtype") == pikepdf.Name.Image or obj.objgen in fonts:
                continue
            try:
                raw = obj.read_bytes()
            except (pikepdf.PdfError, zlib.error, NotImplementedError):
                continue
            checked.streams_read += 1
            note(matcher.found_in_bytes(raw), "a stream of the file, uncompressed")
        else:
            for text in _strings(obj):
                note(matcher.found(text), "a string in the file")


def check(
    path: Path, media_type: str, wanted: list[Wanted], *, ocr_text: dict[int, str], stored_ocr: dict[int, str]
) -> Checked:
    """Read the redacted copy at `path` back; `ocr_text` is what OCR read on the pages drawn again (or the picture's
    frames), `stored_ocr` the original's OCR text of pages copied as they were."""
    matcher = Matcher(wanted)
    checked = Checked(strings=len(matcher))
    if not len(matcher):
        return checked

    def note(found: list[Wanted], where: str) -> None:
        checked.leaks.extend(Leak(w, where) for w in found)

    for page, text in sorted(ocr_text.items()):
        checked.pictures_read += 1
        note(matcher.found(text, page), f"page {page}, read by OCR")
    if media_type != "application/pdf":  # a PDF's bytes are read object by object below, its streams uncompressed
        note(matcher.long_only().found_in_bytes(path.read_bytes()), "the file's bytes")
    if media_type == "application/pdf":
        pdf = open_pdf(path)
        try:
            for index in range(len(pdf)):
                page = pdf[index]
                textpage = page.get_textpage()
                try:
                    note(matcher.found(textpage.get_text_bounded(), index + 1), f"page {index + 1}, its text")
                finally:
                    textpage.close()
                    page.close()
                checked.pages_read += 1
                if index + 1 in stored_ocr and index + 1 not in ocr_text:
                    checked.pictures_read += 1
                    note(matcher.found(stored_ocr[index + 1], index + 1), f"page {index + 1}, read by OCR")
        finally:
            pdf.close()
        with pikepdf.open(path) as doc:
            _objects(doc, matcher, checked, note)
    else:
        checked.pages_read = max(len(ocr_text), 1)
    return checked
