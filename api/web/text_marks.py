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
    stems, words = terms.tokens(text)
    lit = snippets.hits(stems, words, found) if found else set()
    if not lit:
        return escape(text), 0
    places = terms.spans(text)
    body, at = snippets.mark(text, places, lit, 0, len(places), lambda gap: str(escape(gap)))
    return Markup(str(escape(text[: places[0][0]])) + body + str(escape(text[at:]))), len(lit)
