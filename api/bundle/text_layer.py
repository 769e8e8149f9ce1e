"""The invisible OCR text of a picture, laid over the place its picture is drawn, so a reader can search and select it.

Tesseract wrote each OCR'd page as a one-page PDF of invisible text (render mode 3, its GlyphLessFont) on a page the
size of the picture as it read it, that is as displayed: EXIF orientation and PDF page rotation applied. As OCRmyPDF
does, that page goes in whole as a form XObject, drawn with the matrix that maps its MediaBox onto the rectangle the
picture fills on the bundle page. The stored bytes are used as they are, under a fixed resource name, so every
rebuild lays the same text the same way.

On a page that shows one slice of a picture only the words of that slice are kept: text extractors (pdftotext,
pypdf) ignore clipping paths, so a clip alone would put every word of the picture on every slice's page.
"""

import hashlib
from pathlib import Path
from typing import Any

import pikepdf
from pikepdf import Matrix, Name

LAYER_NAME = Name("/CbText")  # fixed: rebuilds stay byte-identical
# A layer is drawn only over a picture of its shape: a layer of another shape was read from another picture.
ASPECT_TOLERANCE = 0.02
# The operators of Tesseract's text-only pages that the slice filter understands; a layer with any other is not cut.
TEXT_STATE = {"BT", "ET", "q", "Q", "cm", "Tr", "Tm", "Td", "TD", "Tf", "Tz", "Tc", "Tw", "Ts"}
SHOW = {"TJ", "Tj"}
UNDERSTOOD = TEXT_STATE | SHOW
GLYPH_WIDTH = 0.5  # GlyphLessFont's one width (/DW 500), in text space units per point of font size
MIDDLE = 0.3  # a word's middle above its baseline, in font sizes: where the eye finds its line

Rect = tuple[float, float, float, float]


def files(directory: Path | None) -> dict[int, Path]:
    """One exhibit's layer files, by 0-based page (the build writes `<page>.pdf` into the exhibit's directory)."""
    if directory is None or not directory.is_dir():
        return {}
    return {int(path.stem): path for path in directory.glob("*.pdf") if path.stem.isdigit()}


class Layers:
    """The text layers of one exhibit's pages, placed on pages of `out`."""

    def __init__(self, out: pikepdf.Pdf, by_page: dict[int, Path]):
        self.out, self.by_page = out, by_page
        self._forms: dict[int, pikepdf.Object | None] = {}
        self._fonts: dict[bytes, pikepdf.Object] = {}

    def __contains__(self, page: int) -> bool:
        return page in self.by_page

    def place(self, target: pikepdf.Page, page: int, rect: Rect, window: Rect | None = None) -> bytes | None:
        """Content that lays page `page`'s text over `rect` (x0, y0, x1, y1 on `target`, where the picture is drawn),
        with only the words inside `window` when the page shows part of the picture (empty when none is); None when
        there is no layer for it, or it does not fit the picture. The form goes into `target`'s resources."""
        form = self._form(page)
        if form is None:
            return None
        mx0, my0, mx1, my1 = (float(v) for v in form.BBox)
        width, height = mx1 - mx0, my1 - my0
        x0, y0, x1, y1 = rect
        if width <= 0 or height <= 0 or x1 <= x0 or y1 <= y0:
            return None
        if abs((width / height) / ((x1 - x0) / (y1 - y0)) - 1) > ASPECT_TOLERANCE:
            return None
        sx, sy = (x1 - x0) / width, (y1 - y0) / height
        dx, dy = x0 - mx0 * sx, y0 - my0 * sy
        clip = b""
        if window is not None:
            wx0, wy0, wx1, wy1 = window
            try:
                form = self._cut(form, ((wx0 - dx) / sx, (wy0 - dy) / sy, (wx1 - dx) / sx, (wy1 - dy) / sy))
            except (pikepdf.PdfError, ValueError):
                return None  # a layer the filter does not understand: better none than another slice's words
            if form is None:
                return b""  # read, and no word of it shows on this page
            clip = b"%.4f %.4f %.4f %.4f re W n " % (wx0, wy0, wx1 - wx0, wy1 - wy0)
        name = target.add_resource(form, Name.XObject, LAYER_NAME)
        cm = b" ".join(b"%.4f" % v for v in (sx, 0, 0, sy, dx, dy))
        return b"q " + clip + cm + b" cm " + bytes(name.unparse()) + b" Do Q"

    def _form(self, page: int) -> pikepdf.Object | None:
        """The layer of `page` copied into `out` once, its font shared with the layers placed before it."""
        if page not in self._forms:
            self._forms[page] = None
            path = self.by_page.get(page)
            if path is not None:
                try:
                    with pikepdf.open(path) as layer:
                        source = layer.pages[0]
                        if int(source.obj.get("/Rotate", 0)) % 360 or "/UserUnit" in source.obj:
                            return None  # Tesseract writes neither: this is not one of its pages
                        form = self.out.copy_foreign(source.as_form_xobject())
                        _hold_bytes(form, set())
                    share_fonts(form, self._fonts)
                    self._forms[page] = form
                except (pikepdf.PdfError, IndexError, AttributeError, ValueError):
                    pass  # a stored layer that cannot be read leaves the page without one, never the bundle unbuilt
        return self._forms[page]

    def _cut(self, form: pikepdf.Object, window: Rect) -> pikepdf.Object | None:
        """A form of the words of `form` inside `window` (in the form's space), sharing its resources; None when no
        word is inside. ValueError when the form draws what the filter does not understand."""
        kept, words = _words_within(form, window)
        if not words:
            return None
        cut = self.out.make_stream(pikepdf.unparse_content_stream(kept))
        for key in ("/Type", "/Subtype", "/BBox", "/Resources"):
            if key in form:
                cut[key] = form[key]
        return cut


def _words_within(form: pikepdf.Object, window: Rect) -> tuple[list, int]:
    """The form's content with the words whose middle falls outside `window` left out, and how many were kept.

    Tesseract places each word from the start of its line (Tm, then Td moves from there), so leaving a word out
    moves no other."""
    wx0, wy0, wx1, wy1 = window
    kept, words = [], 0
    line, size, scale = Matrix(), 0.0, 1.0
    for instruction in pikepdf.parse_content_stream(form):
        operands, op = instruction.operands, str(instruction.operator)
        if op not in UNDERSTOOD:
            raise ValueError(f"a text layer drawing {op} is not cut")
        if op == "BT":
            line = Matrix()
        elif op == "Tm":
            line = Matrix(*(float(v) for v in operands))
        elif op in ("Td", "TD"):
            line = Matrix(1, 0, 0, 1, float(operands[0]), float(operands[1])) @ line
        elif op == "Tf":
            size = float(operands[1])
        elif op == "Tz":
            scale = float(operands[0]) / 100
        elif op in SHOW:
            shown = [operands[0]] if op == "Tj" else list(operands[0])
            glyphs = sum(len(bytes(part)) for part in shown if isinstance(part, pikepdf.String)) // 2
            x, y = line.transform((glyphs * GLYPH_WIDTH * size * scale / 2, size * MIDDLE))
            if not (wx0 <= x <= wx1 and wy0 <= y <= wy1):
                continue
            words += 1
        kept.append(instruction)
    return kept, words


def share_fonts(form: pikepdf.Object, seen: dict[bytes, pikepdf.Object]) -> None:
    """Point the fonts of a layer form at the same font placed before it, where there was one: Tesseract embeds the
    same GlyphLessFont (about 1 KB) in every page it writes. Fonts left unused are not saved."""
    resources = form.get("/Resources")
    fonts = resources.get("/Font") if resources is not None else None
    if not isinstance(fonts, pikepdf.Dictionary):
        return
    for name in list(fonts.keys()):
        key = _digest(fonts[name])
        if key in seen:
            fonts[name] = seen[key]
        else:
            seen[key] = fonts[name]


def share_page_fonts(page: pikepdf.Page, seen: dict[bytes, pikepdf.Object]) -> None:
    """`share_fonts` for the layer a converted page draws, once it is copied into a volume."""
    resources = page.obj.get("/Resources")
    xobjects = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
    layer = xobjects.get(LAYER_NAME) if isinstance(xobjects, pikepdf.Dictionary) else None
    if layer is not None:
        share_fonts(layer, seen)


def _hold_bytes(obj: pikepdf.Object, seen: set, depth: int = 0) -> None:
    """Give every stream copied from a layer file its bytes, so the file can close at once: a copied stream reads
    its source when the copy is saved, and a scanned PDF of 500 pages would hold 500 files open until then."""
    if depth > 8 or not isinstance(obj, pikepdf.Dictionary | pikepdf.Array | pikepdf.Stream):
        return
    if obj.is_indirect:
        if obj.objgen in seen:
            return
        seen.add(obj.objgen)
    if isinstance(obj, pikepdf.Stream):
        encoded: Any = (obj.get("/Filter"), obj.get("/DecodeParms"))  # the bytes are kept as stored, encoded
        obj.write(obj.read_raw_bytes(), filter=encoded[0], decode_parms=encoded[1])
        children = list(obj.stream_dict.values())
    else:
        children = list(obj.values()) if isinstance(obj, pikepdf.Dictionary) else list(obj)
    for item in children:
        _hold_bytes(item, seen, depth + 1)


def _digest(obj: pikepdf.Object) -> bytes:
    digest = hashlib.sha256()
    _feed(digest, obj, 0)
    return digest.digest()


def _feed(digest, obj: pikepdf.Object, depth: int) -> None:
    """Everything a font is made of, its streams' bytes included, into `digest` (fonts hold no cycles; a depth
    limit keeps a malformed one from recursing far)."""
    if depth > 8:
        digest.update(b"<deep>")
        return
    if isinstance(obj, pikepdf.Stream):
        digest.update(b"stream" + obj.read_raw_bytes())
    if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
        for key in sorted(obj.keys()):
            if key != "/Length":
                digest.update(key.encode() + b"=")
                _feed(digest, obj[key], depth + 1)
        digest.update(b";")
    elif isinstance(obj, pikepdf.Array):
        digest.update(b"[")
        for item in obj:
            _feed(digest, item, depth + 1)
        digest.update(b"]")
    elif isinstance(obj, pikepdf.Object):
        digest.update(obj.unparse() + b",")
    else:  # pikepdf gives numbers and booleans as Python's
        digest.update(repr(obj).encode() + b",")
