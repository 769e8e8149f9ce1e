"""The snippet shown with a hit: the words around its hits, HTML-escaped, each hit in <mark>...</mark>.

Made here from the text itself, by the same tokenizer and the same rules the engines match with (terms.py,
query.py), so it is the same on both databases and marks exactly the words that were found: "refunds" for the
query refund, every word of a phrase where the phrase occurs, the words a prefix begins.
"""

import html
import re
from collections.abc import Callable

from api.search import terms
from api.search.query import Phrase

WINDOW = 30  # words shown
LEAD = 6  # words shown before the first hit of the window, where the text has them
GAP = re.compile(r"\s+")
ELLIPSIS = "…"


def hits(pairs: list[tuple[int, int, str, str]], phrases: list[Phrase]) -> set[int]:
    """The positions (indexes into `pairs`, terms.pairs) of the words the phrases match."""
    found: set[int] = set()
    for phrase in phrases:
        wanted = phrase.tokens()
        # Word tokens for a phrase with a prefix, stem tokens otherwise.
        keys = [p[3] for p in pairs] if phrase.prefixed else [p[2] for p in pairs]
        size = len(wanted)
        for i in range(len(pairs) - size + 1):
            for j, (word, token) in enumerate(zip(phrase.words, wanted, strict=True)):
                have = keys[i + j]
                if not (have.startswith(token) if word.prefix else have == token):
                    break
            else:
                found.update(range(i, i + size))
    return found


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


def mark(text: str, pairs: list, lit: set[int], start: int, end: int, gap: Callable[[str], str]) -> tuple[str, int]:
    """Words `start` to `end` of `text` (its `pairs`) as HTML: each word escaped, each run of words in `lit` in one
    <mark>...</mark>, what lies between them given by `gap` (escaped as the caller shows it). Returns the HTML and
    where in `text` it stopped. Snippets and the evidence page's marked text both mark words this one way."""
    out: list[str] = []
    at = pairs[start][0] if start < len(pairs) else len(text)
    open_mark = False
    for n in range(start, end):
        word_start, word_end = pairs[n][0], pairs[n][1]
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
    pairs = terms.pairs(text)
    marked = sorted(hits(pairs, phrases))
    if not pairs:
        return _plain(text[:300]), 0
    start, end = _window(len(pairs), marked)
    body, at = mark(text, pairs, set(marked), start, end, _plain)
    out = [ELLIPSIS if start > 0 else _plain(text[: pairs[0][0]]).lstrip(), body]
    out.append(ELLIPSIS if end < len(pairs) else _plain(text[at:]).rstrip())
    return "".join(out).strip(), len(marked)
