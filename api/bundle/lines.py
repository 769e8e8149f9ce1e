"""Text set in the stamp font: measured, broken into lines of a width, cut short with an ellipsis.

Each function reads its text once, from the start, and no further than what it returns: a line's width is a running
sum of its characters' advances, never measured again as the line grows, and wrapping stops once it has the lines
it may show. A title of a megabyte costs what its first few lines cost. Widths are compared exactly as
`StampFont.width` computes them (whole 1/1000 em, scaled to the size), so lines break where they always have.
"""

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from itertools import islice
from typing import overload

from api.bundle import stamp

ELLIPSIS = "\u2026"
# The longest piece of one user string (a title, a file name, a custodian) that generated pages show: WeasyPrint
# lays out a long unbroken string in time that grows with its square, and nobody reads past this on paper.
MAX_SHOWN = 1_000
_WORD = re.compile(r"\S+")  # the words str.split() gives, found one at a time


@overload
def shown(text: str, limit: int = MAX_SHOWN) -> str: ...
@overload
def shown(text: None, limit: int = MAX_SHOWN) -> None: ...
@overload
def shown(text: str | None, limit: int = MAX_SHOWN) -> str | None: ...
def shown(text: str | None, limit: int = MAX_SHOWN) -> str | None:
    """`text`, cut to `limit` characters with an ellipsis when longer."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + ELLIPSIS


def plain(text: str) -> bytes:
    """Windows-1252 bytes; each other character becomes its closest unaccented form, or '?'."""
    try:
        return text.encode("cp1252")
    except UnicodeEncodeError:
        return b"".join(map(_fold, text))


@lru_cache(maxsize=8192)
def _fold(char: str) -> bytes:
    try:
        return char.encode("cp1252")
    except UnicodeEncodeError:
        decomposed = unicodedata.normalize("NFKD", char)
        return "".join(c for c in decomposed if not unicodedata.combining(c)).encode("cp1252", errors="replace")


@lru_cache
def _advances() -> tuple[int, ...]:
    """Advance of each byte, in 1/1000 em (control codes have none)."""
    widths = stamp.stamp_font().widths
    return tuple(widths[code - 32] if code >= 32 else 0 for code in range(256))


def units(text: str) -> int:
    """Width of `text` in 1/1000 em."""
    return sum(map(_advances().__getitem__, plain(text)))


@lru_cache(maxsize=8192)
def _char_units(char: str) -> int:
    return units(char)


def width(text: str, size: float) -> float:
    """Width of `text` in points at `size`."""
    return units(text) * size / 1000


def fit(text: str, size: float, width: float) -> str:
    """Cut `text` to `width`, ending in an ellipsis when cut."""
    ellipsis, total, keep = _char_units(ELLIPSIS), 0, 0
    for i, char in enumerate(text):
        if (total + ellipsis) * size / 1000 <= width:
            keep = i  # the longest start that leaves room for the ellipsis, so far
        total += _char_units(char)
        if total * size / 1000 > width:
            return text[:keep] + ELLIPSIS
    return text


def wrap(text: str, size: float, width: float, max_lines: int, *, hard_width: float | None = None) -> list[str]:
    """`text` in at most `max_lines` lines no wider than `width`, the last ending in an ellipsis when more follows.

    Lines break between words. A word wider than `hard_width` (default `width`) is broken where it must and its
    last piece ends the line; a word between the two widths keeps a line of its own (a SHA-256 on a slip sheet).
    """
    found = list(islice(_lines(text, size, width, hard_width or width), max_lines + 1))
    if len(found) > max_lines:
        found = found[:max_lines]
        found[-1] = fit(f"{found[-1]} {ELLIPSIS}", size, width)
    return found


def _lines(text: str, size: float, width: float, hard_width: float) -> Iterator[str]:
    line: list[str]
    space, line, used = _char_units(" "), [], 0
    for match in _WORD.finditer(text):
        word = match.group()
        needed = _units_upto(word, size, hard_width)
        if line and (used + space + needed) * size / 1000 <= width:
            line.append(word)
            used += space + needed
            continue
        if line:
            yield " ".join(line)
        if needed * size / 1000 <= hard_width:
            line, used = [word], needed
        else:
            yield from _pieces(word, size, hard_width)
            line, used = [], 0
    if line:
        yield " ".join(line)


def _units_upto(word: str, size: float, width: float, chunk: int = 256) -> int:
    """Width of `word` in 1/1000 em, measured a chunk at a time only until it is known to be wider than `width`."""
    total = 0
    for start in range(0, len(word), chunk):
        total += units(word[start : start + chunk])
        if total * size / 1000 > width:
            break
    return total


def _pieces(word: str, size: float, width: float) -> Iterator[str]:
    """`word` in pieces: each the longest run that fits `width` (at least one character)."""
    start = 0
    while start < len(word):
        end, total = start, 0
        while end < len(word):
            total += _char_units(word[end])
            if total * size / 1000 > width:
                break
            end += 1
        end = max(end, start + 1)
        yield word[start:end]
        start = end
