"""Text measured as record tables set it (DejaVu Sans): how wide a word is, and how many lines a cell takes."""

import re
import unicodedata
from functools import lru_cache

from api.bundle.stamp import FONT_PATHS


@lru_cache
def advances(bold: bool) -> dict[str, float]:
    """Advance widths (in em) of the face the record tables are set in, by character; empty if it is missing."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    path = next((p.with_name(name) for p in FONT_PATHS if p.with_name(name).exists()), None)
    if path is None:
        return {}
    from fontTools.ttLib import TTFont  # loaded on first use, not at every process's start

    font = TTFont(path, lazy=True)
    units, metrics = font["head"].unitsPerEm, font["hmtx"]
    return {chr(code): metrics[glyph][0] / units for code, glyph in font.getBestCmap().items()}


def em(text: str, widths: dict[str, float]) -> float:
    width = 0.0
    for ch in text:
        found = widths.get(ch)
        if found is None:  # not in the face: a fallback font sets it, about an em wide if East Asian
            found = 1.0 if unicodedata.east_asian_width(ch) in ("W", "F") else 0.65
        width += found
    return width


# Where a line may break inside a cell besides at spaces: after a hyphen that is followed by a letter
# ("deals@acme-|store.example"), as the Unicode line-breaking rules the renderer follows allow; never after the
# minus of "-89.88" or inside "2021-03-04", where a digit follows.
HYPHEN_BREAK = re.compile(r"(?<=-)(?=[^\W\d_])")


def pieces(text: str):
    return (piece for word in text.split() for piece in HYPHEN_BREAK.split(word))


def line_count(text: str, width: float, widths: dict[str, float]) -> int:
    """Lines `text` takes in a cell `width` em wide: broken between words and after such hyphens, a word wider
    than the cell broken where it must be, and line breaks kept (as white-space: pre-line does)."""
    if not text:
        return 1
    if "\n" not in text and em(text, widths) <= width:
        return 1
    space = widths.get(" ", 0.32)
    total = 0
    for paragraph in text.split("\n"):
        lines, used = 1, 0.0
        for word in paragraph.split():
            for n, piece in enumerate(HYPHEN_BREAK.split(word)):
                size = em(piece, widths)
                gap = space if n == 0 and used else 0.0
                if used and used + gap + size > width:
                    lines, used, gap = lines + 1, 0.0, 0.0
                while size > width:  # broken anywhere
                    lines, size = lines + 1, size - width
                used += gap + size
        total += lines
    return total
