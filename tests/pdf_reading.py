"""Reading our PDFs back as a reader's tools do: pdffonts and pdftotext (poppler-utils), and the content streams
themselves for the glyphs each page draws and the size it draws them at."""

import io
import math
import re
import subprocess
import tempfile
import unicodedata
from collections import Counter

import pikepdf
from fontTools.ttLib import TTFont
from pikepdf import Name

STAMP_BAND = 72.0  # points up from the bottom: the Bates stamps' band (api/bundle/spec.py BOTTOM_BAND)


def _poppler(tool: list[str], data: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(data)
        f.flush()
        args = [*tool, f.name] + (["-"] if tool[0] == "pdftotext" else [])
        return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def page_texts(data: bytes) -> list[str]:
    """pdftotext's text of every page (in its reading order, UTF-8)."""
    return _poppler(["pdftotext", "-enc", "UTF-8"], data).split("\f")[:-1]


def fonts(data: bytes, first: int | None = None, last: int | None = None) -> list[dict]:
    """pdffonts' table, optionally for some pages: name, type, emb, sub, uni for each font."""
    pages = (["-f", str(first)] if first else []) + (["-l", str(last)] if last else [])
    lines = _poppler(["pdffonts", *pages], data).splitlines()
    widths = [len(part) for part in lines[1].split(" ")]
    rows = []
    for line in lines[2:]:
        cells, start = [], 0
        for width in widths:
            cells.append(line[start : start + width].strip())
            start += width + 1
        rows.append(dict(zip(("name", "type", "encoding", "emb", "sub", "uni"), cells, strict=False)))
    return rows


def letters(text: str) -> Counter:
    """The characters of `text` other than spaces and punctuation, NFKC-normalised (Arabic presentation forms read as
    their letters), counted."""
    text = unicodedata.normalize("NFKC", text)
    return Counter(c for c in text if not c.isspace() and unicodedata.category(c)[0] not in "PZ")


def holds(page: str, expected: str, *, in_order: bool) -> bool:
    """Whether a page's text holds `expected`: as a string where glyphs run in the order of the characters, or as a
    multiset of its letters where they need not: right-to-left text (pdftotext reorders it), and scripts whose
    vowel signs are drawn before the consonant they follow (Devanagari ि). Whitespace is left out of the string:
    a line may break anywhere in Chinese or Japanese, where pdftotext then puts a line break the text never had."""
    if in_order:
        return "".join(expected.split()) in "".join(page.split())
    return not letters(expected) - letters(page)


def _multiply(a: list[float], b: list[float]) -> list[float]:
    return [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    ]


class _Font:
    """What a font dictionary's codes draw: glyph ids for a Type0 font (through its encoding CMap, Identity-H or
    WeasyPrint's own, which maps a character no face has to CID 0), characters for a simple one."""

    def __init__(self, font: pikepdf.Dictionary):
        self.composite = font.Subtype == Name.Type0
        self.name = str(font.get("/BaseFont", ""))
        self.cids: dict[int, int] | None = None  # code -> CID; None: Identity-H, the code is the CID
        if self.composite:
            encoding = font.get("/Encoding")
            if isinstance(encoding, pikepdf.Stream):
                self.cids = _cmap_cids(encoding.read_bytes().decode("latin-1"))
            cid = font.DescendantFonts[0]
            to_gid = cid.get("/CIDToGIDMap", Name.Identity)
            self.gids = None if to_gid == Name.Identity else to_gid.read_bytes()
            descriptor = cid.FontDescriptor
        else:
            descriptor = font.get("/FontDescriptor")
        program = descriptor.get("/FontFile2") if descriptor is not None else None
        self.cmap = TTFont(io.BytesIO(program.read_bytes())).getBestCmap() if program is not None else None

    def missing(self, data: bytes) -> list:
        """Codes in `data` that draw .notdef (glyph 0)."""
        if self.composite:
            codes = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data) - 1, 2)]
            cids = codes if self.cids is None else [self.cids.get(code, 0) for code in codes]
            gids = cids if self.gids is None else [int.from_bytes(self.gids[2 * c : 2 * c + 2], "big") for c in cids]
            return [code for code, gid in zip(codes, gids, strict=True) if gid == 0]
        if self.cmap is None:
            return []
        text = data.decode("cp1252", "replace")
        return [ch for ch in text if ord(ch) >= 32 and ord(ch) not in self.cmap]


def _cmap_cids(cmap: str) -> dict[int, int]:
    """code -> CID from a CMap's cidchar and cidrange sections."""
    cids = {}
    for section in re.findall(r"begincidchar(.*?)endcidchar", cmap, re.S):
        for code, cid in re.findall(r"<([0-9a-fA-F]+)>\s+(\d+)", section):
            cids[int(code, 16)] = int(cid)
    for section in re.findall(r"begincidrange(.*?)endcidrange", cmap, re.S):
        for low, high, cid in re.findall(r"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s+(\d+)", section):
            for offset in range(int(high, 16) - int(low, 16) + 1):
                cids[int(low, 16) + offset] = int(cid) + offset
    return cids


def walk_text(pdf: pikepdf.Pdf, page: pikepdf.Page):
    """Every string a page shows, through its forms: (font, bytes, effective size in points, baseline y)."""
    yield from _walk(page.obj, page.obj.get("/Resources", pikepdf.Dictionary()), [1, 0, 0, 1, 0, 0], {})


def _walk(content, resources, ctm, cache):
    stack, tm, font, size = [], [1, 0, 0, 1, 0, 0], None, 0.0
    line = list(tm)
    fonts_of = resources.get("/Font", pikepdf.Dictionary())
    for operands, operator in pikepdf.parse_content_stream(content):
        op = str(operator)
        if op == "q":
            stack.append(ctm)
        elif op == "Q":
            ctm = stack.pop() if stack else ctm
        elif op == "cm":
            ctm = _multiply([float(v) for v in operands], ctm)
        elif op == "BT":
            tm, line = [1, 0, 0, 1, 0, 0], [1, 0, 0, 1, 0, 0]
        elif op == "Tm":
            tm = line = [float(v) for v in operands]
        elif op in ("Td", "TD"):
            line = _multiply([1, 0, 0, 1, float(operands[0]), float(operands[1])], line)
            tm = list(line)
        elif op == "Tf":
            key = str(operands[0])
            if key not in cache.setdefault(id(fonts_of), {}):
                cache[id(fonts_of)][key] = _Font(fonts_of[key])
            font, size = cache[id(fonts_of)][key], float(operands[1])
        elif op in ("Tj", "'", '"', "TJ"):
            strings = operands[0] if op == "TJ" else operands[-1:]
            matrix = _multiply(tm, ctm)
            scale = math.sqrt(abs(matrix[0] * matrix[3] - matrix[1] * matrix[2]))
            for item in strings:
                if isinstance(item, pikepdf.String):
                    yield font, bytes(item), size * scale, matrix[5]
        elif op == "Do":
            xobject = resources.XObject[str(operands[0])]
            if xobject.get("/Subtype") == Name.Form:
                matrix = [float(v) for v in xobject.get("/Matrix", [1, 0, 0, 1, 0, 0])]
                inner = xobject.get("/Resources", resources)
                yield from _walk(xobject, inner, _multiply(matrix, ctm), cache)


def notdef_glyphs(data: bytes) -> list[tuple[int, str, list]]:
    """(page number, font, codes) wherever a page draws .notdef: a character no embedded font could show."""
    found = []
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for number, page in enumerate(pdf.pages, 1):
            for font, text, _, _ in walk_text(pdf, page):
                missing = font.missing(text) if font else []
                if missing:
                    found.append((number, font.name, missing))
    return found


def text_sizes(data: bytes, pages: list[int]) -> dict[int, float]:
    """The smallest size of text each of these pages (1-based) sets above the stamp band."""
    smallest = {}
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for number in pages:
            sizes = [size for _, text, size, y in walk_text(pdf, pdf.pages[number - 1]) if y > STAMP_BAND and text]
            smallest[number] = min(sizes)
    return smallest


def embedded_font_bytes(data: bytes) -> int:
    """The size of every embedded font program in the file, in bytes."""
    total = 0
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Dictionary) and obj.get("/Type") == Name.FontDescriptor:
                for key in ("/FontFile", "/FontFile2", "/FontFile3"):
                    if key in obj:
                        total += len(obj[key].read_raw_bytes())
    return total
