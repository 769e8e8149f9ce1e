"""The snippet shown with a hit: the words around its hits, HTML-escaped, each hit in <mark>...</mark>.

Made here from the text itself, by the same tokenizer and the same rules the engines match with (terms.py,
query.py), so it is the same on both databases and marks exactly the words that were found: "refunds" for the
query refund, every word of a phrase where the phrase occurs, the words a prefix begins.
"""

import html
import re
from collections.abc import Callable, Sequence

from api.search import terms
from api.search.query import Phrase

WINDOW = 30  # words shown
LEAD = 6  # words shown before the first hit of the window, where the text has them
GAP = re.compile(r"\s+")
ELLIPSIS = "…"


def hits(stems: Sequence[str], words: Sequence[str], phrases: list[Phrase]) -> set[int]:
    """The positions of the words the phrases match, in a text of these stem and word tokens (terms.tokens)."""
    found: set[int] = set()
    for phrase in phrases:
        wanted = phrase.tokens()
        keys = words if phrase.prefixed else stems  # a phrase with a prefix is matched on the words as written
        size, first = len(wanted), wanted[0]
        if phrase.words[0].prefix:
            starts = [i for i, key in enumerate(keys) if key.startswith(first)]
        else:
            starts = _indexes(keys, first)
        for i in starts:
            if i + size > len(keys):
                break
            for j in range(1, size):
                have, token = keys[i + j], wanted[j]
                if not (have.startswith(token) if phrase.words[j].prefix else have == token):
                    break
            else:
                found.update(range(i, i + size))
    return found


def _indexes(keys: Sequence[str], key: str) -> list[int]:
    """Where `key` is in `keys`, found by list.index (in C): most words of a text are not hits."""
    out, at = [], 0
    try:
        while True:
            at = keys.index(key, at)
            out.append(at)
            at += 1
    except ValueError:
        return out


def _window(count: int, marked: list[int]) -> tuple[int, int]:
    """The WINDOW words holding the most hits, starting a little before the first of them."""
    if count <= WINDOW or not marked:
        return 0, min(count, WINDOW)
    best, best_start = -1, 0
    for first in marked:
        start = max(0, min(first - LEAD, count - WINDOW))
        inside = sum(1 for m in marked if start <= m < start + WINDOW)
        if inside > best:
            best, best_start = inside, start
    return best_start, best_start + WINDOW


def _plain(text: str) -> str:
    return html.escape(GAP.sub(" ", text), quote=False)


def mark(
    text: str, places: Sequence, lit: set[int], start: int, end: int, gap: Callable[[str], str]
) -> tuple[str, int]:
    """Words `start` to `end` of `text` (`places`: where each is written, terms.spans) as HTML: each word escaped,
    each run of words in `lit` in one <mark>...</mark>, what lies between them given by `gap` (escaped as the caller
    shows it). Returns the HTML and where in `text` it stopped. Snippets and the evidence page's marked text both
    mark words this one way."""
    out: list[str] = []
    at = places[start][0] if start < len(places) else len(text)
    open_mark = False
    for n in range(start, end):
        word_start, word_end = places[n][0], places[n][1]
        if word_start < at:  # a second word read from the same characters ("½" is 1 and 2): shown once
            continue
        between = text[at:word_start]
        if open_mark and (n not in lit or between.strip()):
            out.append("</mark>")
            open_mark = False
        out.append(gap(between))
        if n in lit and not open_mark:
            out.append("<mark>")
            open_mark = True
        out.append(html.escape(text[word_start:word_end], quote=False))
        at = word_end
    if open_mark:
        out.append("</mark>")
    return "".join(out), at


def render(text: str, phrases: list[Phrase]) -> tuple[str, int]:
    """(snippet HTML, number of words marked) for `text`. The snippet is the whole text when it is short."""
    stems, words = terms.tokens(text)
    marked = sorted(hits(stems, words, phrases))
    if not stems:
        return _plain(text[:300]), 0
    start, end = _window(len(stems), marked)
    places = terms.spans(text, stop=end)  # where the words up to the window's end are written
    body, at = mark(text, places, set(marked), start, end, _plain)
    out = [ELLIPSIS if start > 0 else _plain(text[: places[0][0]]).lstrip(), body]
    out.append(ELLIPSIS if end < len(stems) else _plain(text[at:]).rstrip())
    return "".join(out).strip(), len(marked)
