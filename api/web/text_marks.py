"""The words of a search marked in an item's text on the evidence page: a search hit's link passes its query on
(`?q=`), and the Text section marks what that query found. The words are found by the search's own tokenizer and
rules (api/search), so what is marked is what the search matched: "refunds" for refund, each word of a phrase where
the phrase occurs, the words a prefix begins, never the words after a NOT."""

from markupsafe import Markup, escape

from api.search import query, snippets, terms
from models.inputs import SEARCH_QUERY_CHARS, text_problem


def phrases(q: str | None) -> list[query.Phrase]:
    """What to mark for the search `q`: nothing when there is none or it cannot be read. The page is then shown
    without marks rather than refused: the marks help to read it, they are not what was asked for."""
    q = (q or "").strip()
    if not q or len(q) > SEARCH_QUERY_CHARS or text_problem(q):
        return []
    try:
        return query.positives(query.parse(q))
    except query.QueryError:
        return []


def marked(text: str, found: list[query.Phrase]) -> tuple[Markup, int]:
    """The text, escaped, with each run of found words in <mark>...</mark>; and how many words are marked. The
    same marking as a search's snippet (api/search/snippets.py), over the whole text rather than a window of it."""
    lit = snippets.hits(pairs := terms.pairs(text), found) if found else set()
    if not lit:
        return escape(text), 0
    out: list[str] = []
    at, open_mark = 0, False
    for n, (word_start, word_end, _, _) in enumerate(pairs):
        if word_start < at:  # a second word read from the same characters ("½" is 1 and 2): shown once
            continue
        gap = text[at:word_start]
        if open_mark and (n not in lit or gap.strip()):
            out.append("</mark>")
            open_mark = False
        out.append(escape(gap))
        if n in lit and not open_mark:
            out.append("<mark>")
            open_mark = True
        out.append(escape(text[word_start:word_end]))
        at = word_end
    if open_mark:
        out.append("</mark>")
    out.append(escape(text[at:]))
    return Markup("".join(out)), len(lit)
