"""The words of a text as search indexes and matches them, the same on SQLite and PostgreSQL because Python reads
them, not the database's own tokenizer.

A word is a run of letters, digits and marks (the marks keep Devanagari or Thai words whole), NFKC-normalised and
case-folded; Latin diacritics are folded (café is cafe, Straße is strasse). Scripts written without spaces (Han,
kana, Thai, Lao, Khmer, Myanmar) give one word per character, so a phrase of those characters finds a word of them.
English words are stemmed with Snowball (refunded, refunds and refunding are all "refund"); words with digits
are not.

The engines are given only `[a-z0-9]` tokens, which neither tokenizer can split or change: a word with other
characters is written as "x" and the hex of its UTF-8 (a UTF-8 prefix is a hex prefix, so `word*` still works), and
a plain word that starts with "x" gets a second "x", so the two kinds never meet.

A document is indexed as two token lists of the same length, one stem and one word per position: plain words and
phrases match the stems, `word*` prefixes the words. A long text is indexed in chunks (see `chunks`).
"""

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from itertools import chain, islice
from typing import NamedTuple

import snowballstemmer

MAX_WORD_CHARS = 64  # a longer word (a hash, base64 in an e-mail) is several words of 64 characters
# A chunk ends at this many words, or before any token would occur in it a 257th time, counting a word that is its
# own stem twice: PostgreSQL keeps at most 256 positions of a lexeme in a tsvector and drops the rest, which would
# lose phrases on that engine only (api/services/search/engine.py keeps a stem and its word as one lexeme).
CHUNK_WORDS = 2000
MAX_REPEATS = 256

# Blocks of the scripts written without spaces between words, whose characters are each a word here.
SPACELESS = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x19E0, 0x19FF),  # Khmer symbols
    (0x3005, 0x3007),  # ideographic iteration mark, closing mark, number zero
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xA9E0, 0xA9FF),  # Myanmar extended-B
    (0xAA60, 0xAA7F),  # Myanmar extended-A
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana
    (0x1B000, 0x1B16F),  # kana supplement and extensions
    (0x20000, 0x323AF),  # CJK extensions B to H
)
# Latin letters whose diacritics are folded: a combining mark after one of these is dropped.
LATIN = ((0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F), (0x1E00, 0x1EFF), (0x2C60, 0x2C7F), (0xA720, 0xA7FF))
# Latin letters that carry their mark in the letter itself, so that decomposing them does not fold them.
LATIN_LETTERS = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"})

ASCII_WORD = re.compile(f"[A-Za-z0-9]{{1,{MAX_WORD_CHARS}}}")
_stemmer = snowballstemmer.stemmer("english")
CACHE_ENTRIES = 500_000  # each cache is emptied when it grows past this (OCR of noise makes endless new words)


class _Cache(dict):
    """A dict that fills itself: `make(key)` for a key it lacks, so a lookup is one C call whether it hits or not.
    Emptied when it grows past CACHE_ENTRIES."""

    def __init__(self, make):
        super().__init__()
        self.make = make

    def __missing__(self, key):
        if len(self) > CACHE_ENTRIES:
            self.clear()
        value = self[key] = self.make(key)
        return value


def _char_class(ranges: list[tuple[int, int]]) -> str:
    return "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)


@dataclass(frozen=True)
class _Patterns:
    run: re.Pattern  # a run of letters, digits and marks
    segment: re.Pattern  # within a run: one spaceless character with its marks, or a run of the others


ASTRAL = re.compile("[\U00010000-\U0010ffff]")


@cache
def _categories() -> str:
    """One letter per code point, its general category's class (L, N, M...), to search with regular expressions:
    Python's `re` has no \\p{L}. Built once per process from the Unicode database (a tenth of a second)."""
    return "".join(unicodedata.category(chr(cp))[0] for cp in range(0x110000))


@cache
def _patterns(astral: bool) -> _Patterns:
    """The patterns for texts with characters beyond the Basic Multilingual Plane (emoji, rare ideographs), or
    without: a class of BMP characters only is a table lookup for `re`, ten times faster than one with more."""
    top = 0x10FFFF if astral else 0xFFFF

    def ranges(pattern: str, lo: int = 0, hi: int = top) -> list[tuple[int, int]]:
        hi = min(hi, top)
        return [(lo + m.start(), lo + m.end() - 1) for m in re.finditer(pattern, _categories()[lo : hi + 1])]

    spaceless = [r for a, b in SPACELESS if a <= top for r in ranges("[LN]+", a, b)]
    base = _char_class(spaceless)
    return _Patterns(
        run=re.compile(f"[{_char_class(ranges('[LNM]+'))}]+"),
        segment=re.compile(f"[{base}][{_char_class(ranges('M+'))}]*|[^{base}]+"),
    )


def _patterns_for(text: str) -> _Patterns:
    return _patterns(ASTRAL.search(text) is not None)


def _latin(ch: str) -> bool:
    cp = ord(ch)
    return any(a <= cp <= b for a, b in LATIN)


LATIN_MARK = re.compile("[\u0300-\u036f]")


def _fold(text: str) -> str:
    """NFKC, case folded, Latin diacritics dropped."""
    text = unicodedata.normalize("NFKC", text).casefold()
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFD", text)
    if LATIN_MARK.search(decomposed):
        out, after_latin = [], False
        for ch in decomposed:
            if "\u0300" <= ch <= "\u036f":
                if after_latin:
                    continue
            else:
                after_latin = _latin(ch)
            out.append(ch)
        decomposed = "".join(out)
    return unicodedata.normalize("NFC", decomposed).translate(LATIN_LETTERS)


def _pieces(word: str) -> list[str]:
    return [word[i : i + MAX_WORD_CHARS] for i in range(0, len(word), MAX_WORD_CHARS)]


def _segment_words(segment: str) -> tuple[str, ...]:
    """The words of one segment of a run, folded. Normalising can change what a character is ("⑴" is "(1)", "㍻"
    is two ideographs), so the folded text is split again."""
    folded = _fold(segment)
    patterns, out = _patterns_for(folded), []
    for run in patterns.run.findall(folded):
        for piece in patterns.segment.findall(run):
            out += _pieces(piece)
    return tuple(out)


_segments = _Cache(_segment_words)


def _run_words(run: str) -> tuple[str, ...]:
    """The words of a run of letters, digits and marks of a text that is not all ASCII. Cached: the runs of such
    texts repeat (the words of a language), and the rest of the work is per character."""
    if run.isascii():
        return tuple(_pieces(run.lower()))
    return tuple(word for segment in _patterns_for(run).segment.findall(run) for word in _segments[segment])


_runs = _Cache(_run_words)


def words(text: str) -> list[str]:
    """The folded words of `text`, in order."""
    if text.isascii():
        return ASCII_WORD.findall(text.lower())
    return list(chain.from_iterable(map(_runs.__getitem__, _patterns_for(text).run.findall(text))))


def spans(text: str, stop: int | None = None) -> list[tuple[int, int, str]]:
    """(start, end, folded word) for each word of `text` (the first `stop` of them), the span being where it is
    written in `text`: what a snippet marks. The words are those of `words(text)`."""
    if text.isascii():
        return [(m.start(), m.end(), m.group().lower()) for m in islice(ASCII_WORD.finditer(text), stop)]
    patterns, out = _patterns_for(text), list[tuple[int, int, str]]()
    for run in patterns.run.finditer(text):
        if stop is not None and len(out) >= stop:
            break
        if run.group().isascii():
            out += [(m.start(), m.end(), m.group().lower()) for m in ASCII_WORD.finditer(text, run.start(), run.end())]
            continue
        for segment in patterns.segment.finditer(run.group()):
            start, end = run.start() + segment.start(), run.start() + segment.end()
            out += [(start, end, word) for word in _segments[segment.group()]]
    return out if stop is None else out[:stop]


def stem(word: str) -> str:
    """The Snowball English stem of a word of plain Latin letters; any other word (with digits, in another
    script) is its own stem. Numbers and codes are many and each rare: stemming them would change nothing, at
    twenty times a cached lookup each."""
    return _stemmer.stemWord(word) if word.isascii() and word.isalpha() else word


def token(word: str) -> str:
    """A folded word (or stem) as the engines store it: `[a-z0-9]+`, the same for the same word, never the same as
    another's."""
    if word.isascii():
        return "x" + word if word.startswith("x") else word
    return "x" + word.encode("utf-8").hex()


def _keys_of(word: str) -> tuple[str, str]:
    return token(stem(word)), token(word)


_keys = _Cache(_keys_of)


def keys(word: str) -> tuple[str, str]:
    """(stem token, word token) of a folded word. Cached: stemming costs twenty times a lookup."""
    return _keys[word]


class Chunk(NamedTuple):
    """What one search document indexes: a stem token and a word token per position, and where in the text the
    chunk lies (None: the whole text)."""

    stems: Sequence[str]
    words: Sequence[str]
    start: int | None = None
    end: int | None = None


def chunks(text: str) -> list[Chunk]:
    """The text as the documents that index it: one, unless it is long (CHUNK_WORDS) or repeats a word more often
    than PostgreSQL keeps positions of (MAX_REPEATS); then one per stretch that fits. A phrase across the edge of
    two chunks is not found, on either engine."""
    found = words(text)
    if not found:
        return []
    stems, tokens = zip(*map(_keys.__getitem__, found), strict=True)
    if len(found) <= MAX_REPEATS:
        return [Chunk(stems, tokens)]
    cuts: list[tuple[int, int]] = []
    counts: dict[str, int] = {}
    first = 0
    for n, (stem_key, word_key) in enumerate(zip(stems, tokens, strict=True)):
        stem_seen = counts.get(stem_key, 0) + 1
        word_seen = counts.get(word_key, 0) + 1 + (word_key == stem_key)
        if stem_seen > MAX_REPEATS or word_seen > MAX_REPEATS or n - first >= CHUNK_WORDS:
            cuts.append((first, n))
            counts, first = {}, n
            stem_seen, word_seen = 1, 1 + (word_key == stem_key)
        counts[stem_key], counts[word_key] = stem_seen, word_seen
    if first == 0:
        return [Chunk(stems, tokens)]
    cuts.append((first, len(found)))
    places = spans(text)
    return [Chunk(stems[a:b], tokens[a:b], places[a][0], places[b - 1][1]) for a, b in cuts]


def tokens(text: str) -> tuple[Sequence[str], Sequence[str]]:
    """The stem tokens and the word tokens of `text`, position by position: how a snippet finds the hits in it."""
    found = words(text)
    if not found:
        return (), ()
    stems, tokens = zip(*map(_keys.__getitem__, found), strict=True)
    return stems, tokens
