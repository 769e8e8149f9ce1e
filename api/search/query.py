"""A search query as a person writes it, read into a tree that each engine's match expression is written from.

Syntax: words separated by spaces must all occur (AND); `AND`, `OR` and `a NOT b` (a without b) in capitals, NOT
binding tightest, then AND, then OR; parentheses group; `"five star"` is a phrase (its words in a row); `refund*` is
a prefix. Letters are matched case-insensitively and plain words by their stem (terms.py). Anything else is no
syntax: `-`, `:`, `^` separate words like spaces do, `NEAR` is a word. A word that is several words to the tokenizer
("e-mail", "5-STAR", a run of Chinese characters) is a phrase of them.

What cannot be read is a QueryError saying why, in words: an unmatched quote or parenthesis, an operator without its
operands, a query with nothing to search for or too many words.
"""

from dataclasses import dataclass

from api.search import terms

MAX_WORDS = 100  # words in one query, phrases' words included
MAX_DEPTH = 20  # parentheses inside parentheses
MIN_PREFIX_CHARS = 2  # `a*` would match most of the index
OPERATORS = ("AND", "OR", "NOT")


class QueryError(ValueError):
    """The query cannot be read; args[0] says why, for the person who wrote it."""


@dataclass(frozen=True)
class Word:
    text: str  # folded (terms.words)
    prefix: bool = False


@dataclass(frozen=True)
class Phrase:
    """One or more words in a row: a single word is a phrase of one. With a prefix among them, the words are
    matched as written (unstemmed), as a prefix can only be."""

    words: tuple[Word, ...]

    @property
    def prefixed(self) -> bool:
        return any(w.prefix for w in self.words)

    def tokens(self) -> list[str]:
        """Each word's token in the column it is matched in: words (prefixed phrases) or stems."""
        if self.prefixed:
            return [terms.token(w.text) for w in self.words]
        return [terms.keys(w.text)[0] for w in self.words]


@dataclass(frozen=True)
class And:
    parts: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    parts: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    keep: "Node"
    drop: "Node"


Node = Phrase | And | Or | Not


def positives(node: Node) -> list[Phrase]:
    """The phrases a hit is found by: every one but those on the right of a NOT (what a snippet marks)."""
    if isinstance(node, Phrase):
        return [node]
    if isinstance(node, Not):
        return positives(node.keep)
    return [p for part in node.parts for p in positives(part)]


# Reading: the text into tokens (words, phrases, operators, parentheses), then the tokens into a tree.


def _words(text: str) -> list[Word]:
    """The words of one space-free piece of a query; a `*` at its end makes its last word a prefix."""
    found = terms.words(text)
    if not found or not text.endswith("*"):
        return [Word(w) for w in found]
    last = found[-1]
    if last.isascii() and len(last) < MIN_PREFIX_CHARS:
        raise QueryError(f"a prefix needs at least {MIN_PREFIX_CHARS} letters or digits before its *, as in refund*")
    return [Word(w) for w in found[:-1]] + [Word(last, prefix=True)]


def _lex(q: str) -> list[object]:
    """Tokens: Phrase, "(", ")" or an operator name. Pieces without words ("-", "*") are left out."""
    out: list[object] = []
    i, n = 0, len(q)
    while i < n:
        ch = q[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            out.append(ch)
            i += 1
        elif ch == '"':
            close = q.find('"', i + 1)
            if close < 0:
                raise QueryError('the query has an unmatched double quote ("): close the phrase, or leave it out')
            found = [w for piece in q[i + 1 : close].split() for w in _words(piece)]
            if found:
                out.append(Phrase(tuple(found)))
            i = close + 1
        else:
            j = i
            while j < n and not q[j].isspace() and q[j] not in '()"':
                j += 1
            piece = q[i:j]
            if piece in OPERATORS:
                out.append(piece)
            elif found := _words(piece):
                out.append(Phrase(tuple(found)))
            i = j
    return out


class _Parser:
    """or := and (OR and)* ; and := not ([AND] not)* ; not := primary (NOT primary)* ; primary := ( or ) | phrase.
    `a AND NOT b` is read as `a NOT b`."""

    def __init__(self, tokens: list[object]):
        self.tokens, self.at, self.depth = tokens, 0, 0

    def peek(self) -> object:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> object:
        token = self.peek()
        self.at += 1
        return token

    def parse(self) -> Node:
        node = self.or_()
        if self.peek() == ")":
            raise QueryError("the query has a ) without its (")
        return node

    def or_(self) -> Node:
        parts = [self.and_(None)]
        while self.peek() == "OR":
            self.take()
            parts.append(self.and_("OR"))
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_(self, after: str | None) -> Node:
        parts = [self.not_(after)]
        while (token := self.peek()) not in (None, ")", "OR"):
            if token == "AND":
                self.take()
                if self.peek() == "NOT":  # `a AND NOT b`
                    self.take()
                    parts[-1] = Not(parts[-1], self.primary("NOT"))
                    continue
                parts.append(self.not_("AND"))
            else:
                parts.append(self.not_(None))
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def not_(self, after: str | None) -> Node:
        node = self.primary(after)
        while self.peek() == "NOT":
            self.take()
            node = Not(node, self.primary("NOT"))
        return node

    def primary(self, after: str | None) -> Node:
        token = self.take()
        if isinstance(token, Phrase):
            return token
        if token == "(":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise QueryError(f"the query nests parentheses more than {MAX_DEPTH} deep")
            if self.peek() == ")":
                raise QueryError("the query has parentheses with nothing to search for inside them")
            node = self.or_()
            if self.take() != ")":
                raise QueryError("the query has a ( without its )")
            self.depth -= 1
            return node
        if token == "NOT":
            raise QueryError("NOT needs something to keep before it: a NOT b finds a without b")
        if after is not None:
            raise QueryError(f"{after} needs a word, phrase or group after it")
        if token in OPERATORS:
            raise QueryError(f"{token} needs a word, phrase or group before it")
        if token == ")":
            raise QueryError("the query has a ) without its (")
        raise QueryError("the query has no words to search for")


def parse(q: str) -> Node:
    """The query as a tree; QueryError when it cannot be read."""
    tokens = _lex(q)
    if not any(isinstance(t, Phrase) for t in tokens):
        raise QueryError("the query has no words to search for: give at least one word of letters or digits")
    count = sum(len(t.words) for t in tokens if isinstance(t, Phrase))
    if count > MAX_WORDS:
        raise QueryError(f"the query has {count} words; a search takes at most {MAX_WORDS}")
    return _Parser(tokens).parse()


# Writing: the tree as each engine's match expression. Every token is `[a-z0-9]+` (terms.token), so nothing a
# person typed reaches the engine's own syntax.


def fts5(node: Node) -> str:
    """An SQLite FTS5 MATCH expression over the columns stems and words."""
    if isinstance(node, Phrase):
        column = "words" if node.prefixed else "stems"
        parts = [f'"{t}"' + (" *" if w.prefix else "") for w, t in zip(node.words, node.tokens(), strict=True)]
        return f"({column} : {' + '.join(parts)})"
    if isinstance(node, Not):
        return f"({fts5(node.keep)} NOT {fts5(node.drop)})"
    joiner = " AND " if isinstance(node, And) else " OR "
    return "(" + joiner.join(fts5(part) for part in node.parts) + ")"


# PostgreSQL keeps both token lists in one tsvector, told apart by weight: the stems at positions 1..n weighted A,
# the words at n+1..2n weighted B (engine.tsvector_text). A phrase never mixes the two.
STEM_WEIGHT, WORD_WEIGHT = "A", "B"


def tsquery(node: Node) -> str:
    """A PostgreSQL tsquery (its text form, cast by the database, never parsed by to_tsquery)."""
    if isinstance(node, Phrase):
        weight = WORD_WEIGHT if node.prefixed else STEM_WEIGHT
        parts = [f"'{t}':" + ("*" if w.prefix else "") + weight for w, t in zip(node.words, node.tokens(), strict=True)]
        return parts[0] if len(parts) == 1 else "(" + " <-> ".join(parts) + ")"
    if isinstance(node, Not):
        return f"({tsquery(node.keep)} & !{tsquery(node.drop)})"
    joiner = " & " if isinstance(node, And) else " | "
    return "(" + joiner.join(tsquery(part) for part in node.parts) + ")"
