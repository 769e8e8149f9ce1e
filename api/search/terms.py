"""The words of a text as search indexes and matches them, the same on SQLite and PostgreSQL because Python reads
them, not the database's own tokenizer.

A word is a run of letters, digits and marks (the marks keep Devanagari or Thai words whole), NFKC-normalised and
case-folded; Latin diacritics are folded (café is cafe, Straße is strasse). Scripts written without spaces (Han,
kana, Thai, Lao, Khmer, Myanmar) give one word per character, so a phrase of those characters finds a word of them.
English words are stemmed with Snowball (refunded, refunds and refunding are all "refund").

The engines are given only `[a-z0-9]` tokens, which neither tokenizer can split or change: a word with other
characters is written as "x" and the hex of its UTF-8 (a UTF-8 prefix is a hex prefix, so `word*` still works), and
a plain word that starts with "x" gets a second "x", so the two kinds never meet.

A document is indexed as two token lists of the same length, one stem and one word per position: plain words and
phrases match the stems, `word*` prefixes the words. A long text is indexed in chunks (see `chunks`).
"""

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

import snowballstemmer

MAX_WORD_CHARS = 64  # a longer word (a hash, base64 in an e-mail) is indexed and matched by its first 64 characters
# A chunk ends at this many words, or before any stem would occur in it a 257th time: PostgreSQL keeps at most 256
# positions of a lexeme in a tsvector and drops the rest, which would lose phrases on that engine only.
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

ASCII_WORD = re.compile(r"[A-Za-z0-9]+")
_stemmer = snowballstemmer.stemmer("english")
_keys: dict[str, tuple[str, str]] = {}
_pieces: dict[str, tuple[str, ...]] = {}
CACHE_ENTRIES = 500_000  # each cache is emptied when it grows past this (OCR of noise makes endless new words)


def _char_class(ranges: list[tuple[int, int]]) -> str:
    return "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)


@dataclass(frozen=True)
class _Patterns:
    run: re.Pattern  # a run of letters, digits and marks
    segment: re.Pattern  # within a run: one spaceless character with its marks, or a run of the others


@cache
def _patterns() -> _Patterns:
    """Built once per process from the Unicode database (a tenth of a second): Python's `re` has no \\p{L}."""
    # One letter per code point, its general category's class (L, N, M...), searched with regular expressions.
    classes = "".join(unicodedata.category(chr(cp))[0] for cp in range(0x110000))

    def ranges(pattern: str, lo: int = 0, hi: int = 0x10FFFF) -> list[tuple[int, int]]:
        return [(lo + m.start(), lo + m.end() - 1) for m in re.finditer(pattern, classes[lo : hi + 1])]

    spaceless = [r for a, b in SPACELESS for r in ranges("[LN]+", a, b)]
    base = _char_class(spaceless)
    return _Patterns(
        run=re.compile(f"[{_char_class(ranges('[LNM]+'))}]+"),
        segment=re.compile(f"[{base}][{_char_class(ranges('M+'))}]*|[^{base}]+"),
    )


def _latin(ch: str) -> bool:
    cp = ord(ch)
    return any(a <= cp <= b for a, b in LATIN)


def _fold(text: str) -> str:
    """NFKC, case folded, Latin diacritics dropped."""
    text = unicodedata.normalize("NFKC", text).casefold()
    if text.isascii():
        return text
    out, after_latin = [], False
    for ch in unicodedata.normalize("NFD", text):
        if "\u0300" <= ch <= "\u036f":
            if after_latin:
                continue
        else:
            after_latin = _latin(ch)
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out)).translate(LATIN_LETTERS)


def _segment_words(segment: str) -> tuple[str, ...]:
    """The words of one segment of a run, folded. Normalising can change what a character is ("⑴" is "(1)", "㍻"
    is two ideographs), so the folded text is split again."""
    found = _pieces.get(segment)
    if found is None:
        patterns, words = _patterns(), []
        for run in patterns.run.findall(_fold(segment)):
            words += [piece[:MAX_WORD_CHARS] for piece in patterns.segment.findall(run)]
        if len(_pieces) > CACHE_ENTRIES:
            _pieces.clear()
        found = _pieces[segment] = tuple(words)
    return found


def words(text: str) -> list[str]:
    """The folded words of `text`, in order."""
    if text.isascii():
        return [w[:MAX_WORD_CHARS] for w in ASCII_WORD.findall(text.lower())]
    patterns, out = _patterns(), []
    for run in patterns.run.findall(text):
        if run.isascii():
            out.append(run.lower()[:MAX_WORD_CHARS])
        else:
            for segment in patterns.segment.findall(run):
                out += _segment_words(segment)
    return out


def spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, folded word) for each word of `text`, the span being where it is written in `text`: what a
    snippet marks. The words are those of `words(text)`."""
    if text.isascii():
        return [(m.start(), m.end(), m.group().lower()[:MAX_WORD_CHARS]) for m in ASCII_WORD.finditer(text)]
    patterns, out = _patterns(), []
    for run in patterns.run.finditer(text):
        if run.group().isascii():
            out.append((run.start(), run.end(), run.group().lower()[:MAX_WORD_CHARS]))
            continue
        for segment in patterns.segment.finditer(run.group()):
            start, end = run.start() + segment.start(), run.start() + segment.end()
            out += [(start, end, word) for word in _segment_words(segment.group())]
    return out


def stem(word: str) -> str:
    """The Snowball English stem of a plain Latin word; any other word is its own stem."""
    return _stemmer.stemWord(word) if word.isascii() else word


def token(word: str) -> str:
    """A folded word (or stem) as the engines store it: `[a-z0-9]+`, the same for the same word, never the same as
    another's."""
    if word.isascii():
        return "x" + word if word.startswith("x") else word
    return "x" + word.encode("utf-8").hex()


def keys(word: str) -> tuple[str, str]:
    """(stem token, word token) of a folded word. Cached: stemming costs twenty times a lookup."""
    found = _keys.get(word)
    if found is None:
        if len(_keys) > CACHE_ENTRIES:
            _keys.clear()
        found = _keys[word] = (token(stem(word)), token(word))
    return found


@dataclass(frozen=True)
class Chunk:
    """What one search document indexes: a stem token and a word token per position, and where in the text the
    chunk lies (None: the whole text)."""

    stems: list[str]
    words: list[str]
    start: int | None = None
    end: int | None = None


def chunks(text: str) -> list[Chunk]:
    """The text as the documents that index it: one, unless it is long (CHUNK_WORDS) or repeats a word more often
    than PostgreSQL keeps positions of (MAX_REPEATS); then one per stretch that fits. A phrase across the edge of
    two chunks is not found, on either engine."""
    found = [_keys.get(w) or keys(w) for w in words(text)]
    if not found:
        return []
    stems, tokens = [k[0] for k in found], [k[1] for k in found]
    if len(found) <= MAX_REPEATS:
        return [Chunk(stems, tokens)]
    cuts: list[tuple[int, int]] = []
    counts: dict[str, int] = {}
    first = 0
    for n, key in enumerate(stems):
        seen = counts.get(key, 0) + 1
        if seen > MAX_REPEATS or n - first >= CHUNK_WORDS:
            cuts.append((first, n))
            counts, first, seen = {}, n, 1
        counts[key] = seen
    if first == 0:
        return [Chunk(stems, tokens)]
    cuts.append((first, len(found)))
    places = spans(text)
    return [Chunk(stems[a:b], tokens[a:b], places[a][0], places[b - 1][1]) for a, b in cuts]


def pairs(text: str) -> list[tuple[int, int, str, str]]:
    """(start, end, stem token, word token) for each word of `text`: how a snippet finds the hits in it."""
    return [(start, end, *(_keys.get(word) or keys(word))) for start, end, word in spans(text)]
