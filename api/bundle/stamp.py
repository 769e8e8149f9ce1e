"""Stamps in the bottom band: Bates number, "Page N of M", legend and exhibit sticker, in one embedded font; and that
font, with its bold, for the drawn pages (draw.py, index.py)."""

import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pikepdf
from pikepdf import Array, Dictionary, Name

from api.bundle.spec import CONTINUED_BAND, LETTER, content_box

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
FONT_PATHS = tuple(folder / "DejaVuSans.ttf" for folder in FONT_DIRS)
FONT_NAME, BOLD_NAME = Name("/CBStamp"), Name("/CBStampB")
# Subset tags fixed, so rebuilds are byte-identical.
BASE_FONTS = {False: Name("/CBSTMP+DejaVuSans"), True: Name("/CBSTMB+DejaVuSans-Bold")}
CODES = range(32, 256)  # WinAnsiEncoding
LETTER_HEIGHT = LETTER[1]


@dataclass(frozen=True)
class StampFont:
    data: bytes
    widths: tuple[int, ...]  # per code in CODES, in 1/1000 em
    bbox: tuple[int, int, int, int]
    ascent: int
    descent: int
    cap_height: int

    def width(self, text: bytes, size: float) -> float:
        return sum(self.widths[c - 32] if c >= 32 else 0 for c in text) * size / 1000


def _char(code: int) -> str | None:
    try:
        return bytes([code]).decode("cp1252")
    except UnicodeDecodeError:
        return None


@lru_cache
def stamp_font(bold: bool = False) -> StampFont:
    """DejaVu Sans (or Sans Bold) cut down to the WinAnsi characters (about 40 KB), built once per process."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    path = next((folder / name for folder in FONT_DIRS if (folder / name).exists()), None)
    if path is None:
        raise RuntimeError(f"{name} is missing: install the fonts-dejavu-core package")
    from fontTools import subset  # loaded when a stamp is first drawn, not at every process's start
    from fontTools.ttLib import TTFont

    font = TTFont(path, recalcTimestamp=False)  # saved with the face's own date, not today's: rebuilds match
    scale = 1000 / font["head"].unitsPerEm
    cmap = font.getBestCmap()
    wanted = [ord(ch) for ch in map(_char, CODES) if ch and ord(ch) in cmap]
    options = subset.Options()
    options.recalc_timestamp = False
    options.notdef_outline = True
    options.name_IDs = ["*"]
    options.drop_tables += ["FFTM"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=wanted)
    subsetter.subset(font)
    buf = io.BytesIO()
    font.save(buf)
    widths = []
    for code in CODES:
        ch = _char(code)
        glyph = cmap.get(ord(ch)) if ch else None
        widths.append(round(font["hmtx"][glyph][0] * scale) if glyph in font["hmtx"].metrics else 0)
    head, os2 = font["head"], font["OS/2"]
    return StampFont(
        data=buf.getvalue(),
        widths=tuple(widths),
        bbox=tuple(round(v * scale) for v in (head.xMin, head.yMin, head.xMax, head.yMax)),
        ascent=round(os2.sTypoAscender * scale),
        descent=round(os2.sTypoDescender * scale),
        cap_height=round(getattr(os2, "sCapHeight", 700) * scale),
    )


def font_object(pdf: pikepdf.Pdf, bold: bool = False) -> pikepdf.Object:
    """The stamp font (or its bold) as an indirect object of `pdf`: one copy shared by every page."""
    font = stamp_font(bold)
    file = pdf.make_stream(font.data)
    file.Length1 = len(font.data)
    descriptor = Dictionary(
        Type=Name.FontDescriptor,
        FontName=BASE_FONTS[bold],
        Flags=32,
        FontBBox=Array(font.bbox),
        ItalicAngle=0,
        Ascent=font.ascent,
        Descent=font.descent,
        CapHeight=font.cap_height,
        StemV=140 if bold else 80,
        FontFile2=file,
    )
    return pdf.make_indirect(
        Dictionary(
            Type=Name.Font,
            Subtype=Name.TrueType,
            BaseFont=BASE_FONTS[bold],
            FirstChar=CODES[0],
            LastChar=CODES[-1],
            Widths=Array(font.widths),
            Encoding=Name.WinAnsiEncoding,
            FontDescriptor=pdf.make_indirect(descriptor),
        )
    )


def encodable(text: str) -> bool:
    """Whether the stamp font shows `text` as it is (Windows-1252)."""
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def encode(text: str) -> bytes:
    return text.encode("cp1252", errors="replace")


def pdf_string(text: bytes) -> bytes:
    """A PDF literal string: the bytes in parentheses, with backslashes and parentheses escaped."""
    return b"(" + text.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _text(x: float, y: float, size: float, text: bytes) -> bytes:
    return b"BT /CBStamp %.2f Tf %.2f %.2f Td %s Tj ET\n" % (size, x, y, pdf_string(text))


@dataclass(frozen=True)
class PageStamp:
    bates: str
    page_number: int
    page_total: int
    legend: str | None
    sticker: str | None  # the exhibit label, on an exhibit's first content page
    # The exhibit label again, small beside the Bates number, on its other pages: a page of a 20-page export
    # taken out of the bundle still says which exhibit it belongs to.
    exhibit: str | None = None
    # (k, n) on each page of an image split across n pages: "part k of n" by the sticker or the exhibit label, and
    # the "continued" notes in the bands the converter left clear above and below the slice.
    part: tuple[int, int] | None = None


MARGIN, BASELINE, UPPER = 36.0, 26.0, 43.0
GAP = 12.0  # between two stamps on one line
BATES_SIZE, LABEL_SIZE, SMALLEST = 10.0, 8.0, 6.0


def _label(font: StampFont, pieces, text: str, size: float, used: dict):
    """The width of an exhibit label at `size`, and what draws it with its left end on a baseline: in the stamp
    font where it can show the label, else the label's piece (pieces.py), scaled; `used` collects the forms."""
    if encodable(text) or pieces is None:
        data = encode(text)
        return font.width(data, size), lambda x, y: _text(x, y, size, data)
    piece = pieces.sheet.label(text)

    def draw(x: float, y: float) -> bytes:
        content, (name, form) = pieces.draw(piece, x, y, size)
        used[name] = form
        return content

    return pieces.sheet.width(piece, size), draw


def stamp_stream(
    stamp: PageStamp, width: float, height: float = LETTER_HEIGHT, pieces=None, used: dict | None = None
) -> bytes:
    """Content that draws the stamps, inside the bottom band (below y = 66); on the page of a split image, also the
    "continued" notes in the clear bands at the top and bottom of the content area. A label the font cannot show
    is placed from `pieces` (pieces.Forms), its form added to `used`.

    The Bates number, with the small exhibit label beside it, has the room right of the centred page counter. A long
    prefix shrinks them together, the Bates number from 10 pt down to 6 pt; past that (a prefix of some thirty wide
    letters) the counter moves up to the sticker line and they have the whole line right of the legend. Nothing is
    ever printed over the counter."""
    font, used = stamp_font(), {} if used is None else used
    parts = [b"q 0 g 0 G\n"]
    bates = encode(stamp.bates)
    label = None
    if stamp.exhibit and not stamp.sticker:
        # The full label is on the exhibit's sticker; beside the Bates number at most a quarter of the line is
        # given to it (a label in the stamp font is cut short with "..."; a shaped one keeps its width).
        label = stamp.exhibit
        if encodable(label):
            label = _clipped(font, encode(label), LABEL_SIZE, width / 4).decode("cp1252")
    label_width = _label(font, pieces, label, LABEL_SIZE, used)[0] if label else 0.0
    counter = encode(f"Page {stamp.page_number} of {stamp.page_total}")
    counter_y, counter_width = BASELINE, font.width(counter, 8)
    natural = font.width(bates, BATES_SIZE) + (10 + label_width if label else 0)
    factor = min(1.0, (width - MARGIN - (width + counter_width) / 2 - GAP) / natural)
    if factor * BATES_SIZE < SMALLEST:
        counter_y = UPPER
        legend_end = MARGIN + (font.width(encode(stamp.legend), 8) + GAP if stamp.legend else 0)
        factor = min(1.0, (width - MARGIN - legend_end) / natural)
    bates_x = width - MARGIN - font.width(bates, BATES_SIZE * factor)
    parts.append(_text(bates_x, BASELINE, BATES_SIZE * factor, bates))
    if label:
        size = LABEL_SIZE * factor
        scaled_width, draw = _label(font, pieces, label, size, used)
        parts.append(draw(bates_x - 10 * factor - scaled_width, BASELINE))
    parts.append(_text((width - counter_width) / 2, counter_y, 8, counter))
    if stamp.legend:
        parts.append(_text(MARGIN, BASELINE, 8, encode(stamp.legend)))
    part_end = width - MARGIN  # "part k of n" ends at the right margin, or just left of the sticker
    if stamp.sticker:
        caption = b"EXHIBIT"
        sticker_width, draw = _label(font, pieces, stamp.sticker, 11, used)
        box_width = max(sticker_width, font.width(caption, 6)) + 14
        x0, y0, box_height = width - MARGIN - box_width, 38.0, 26.0
        parts.append(
            b"1 g %.2f %.2f %.2f %.2f re f 0 g 1 w %.2f %.2f %.2f %.2f re S\n"
            % (x0, y0, box_width, box_height, x0, y0, box_width, box_height)
        )
        parts.append(_text(x0 + (box_width - font.width(caption, 6)) / 2, y0 + 17, 6, caption))
        parts.append(draw(x0 + (box_width - sticker_width) / 2, y0 + 5))
        part_end = x0 - 8
    if stamp.part:
        part = encode(f"part {stamp.part[0]} of {stamp.part[1]}")
        parts.append(_text(part_end - font.width(part, 8), UPPER, 8, part))
        parts.append(_continued(font, stamp.part, width, height))
    parts.append(b"Q\n")
    return b"".join(parts)


def _clipped(font: StampFont, text: bytes, size: float, room: float) -> bytes:
    """The text, cut short with "..." if it is wider than `room` at `size`."""
    if font.width(text, size) <= room:
        return text
    while text and font.width(text + b"...", size) > room:
        text = text[:-1]
    return text + b"..."


def _continued(font: StampFont, part: tuple[int, int], width: float, height: float) -> bytes:
    """The notes in the clear bands of a slice's page: where the image comes from and where it goes on."""
    x0, y0, x1, y1 = content_box(width > height)
    notes = [b"0.3 g\n"]
    if part[0] > 1:
        notes.append(_text(x0, y1 - CONTINUED_BAND + 4, 7, b"Continued from the previous page"))
    if part[0] < part[1]:
        text = b"Continued on the next page"
        notes.append(_text(x1 - font.width(text, 7), y0 + 4, 7, text))
    return b"".join(notes) + b"0 g\n"


def apply(pdf: pikepdf.Pdf, page: pikepdf.Page, font: pikepdf.Object, stamp: PageStamp, pieces=None) -> None:
    """Wrap the page's own content in q/Q (so its state cannot leak) and draw the stamps over the band; a label
    outside the stamp font is placed from `pieces`, the build's pieces as forms of `pdf`."""
    page.add_resource(font, Name.Font, FONT_NAME)
    box = page.mediabox
    width, height = float(box[2]) - float(box[0]), float(box[3]) - float(box[1])
    used: dict = {}
    content = stamp_stream(stamp, width, height, pieces, used)
    for name, form in used.items():
        page.add_resource(form, Name.XObject, name)
    page.contents_add(pdf.make_stream(b"q\n"), prepend=True)
    page.contents_add(pdf.make_stream(b"Q\n" + content))


def page_labels(prefix: str, digits: int, first_number: int, count: int) -> Dictionary:
    """/PageLabels equal to the Bates numbers: a new range wherever the zero padding changes length."""
    nums = []
    for index in range(count):
        number = first_number + index
        if index == 0 or len(str(number)) != len(str(number - 1)):
            padding = "0" * max(0, digits - len(str(number)))
            nums += [index, Dictionary(S=Name.D, P=pikepdf.String(prefix + padding), St=number)]
    return Dictionary(Nums=Array(nums))
