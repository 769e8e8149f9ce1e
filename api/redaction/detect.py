"""Detectors: where a page's text holds what FRCP 5.2 or a protective order keeps out of a filing or a production.

Each hit is a span of the text to cover, the rule that found it and the reason a redaction log cites. A number FRCP
5.2(a) lets end in its last four digits (a social-security, taxpayer or financial-account number) is covered up to
them; a birth date keeps its year (FRCP 5.2(a)(2)). A case's own terms (any case, any script) and patterns (regular
expressions, run with a time limit so a pattern that backtracks without end cannot hold a worker) come last.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import phonenumbers
import regex

SSN_REASON = "FRCP 5.2(a)(1)"
BIRTH_REASON = "FRCP 5.2(a)(2)"
ACCOUNT_REASON = "FRCP 5.2(a)(4)"
EMAIL_REASON = "Personal data: e-mail address (protective order)"
PHONE_REASON = "Personal data: phone number (protective order)"
ADDRESS_REASON = "Personal data: street address (protective order)"
TERM_REASON = "Protective order: listed term"
PATTERN_REASON = "Protective order: listed pattern"
PATTERN_SECONDS = 1.0  # the most one case pattern may run over one page

KEEP = 4  # the last digits FRCP 5.2(a) lets a number keep

_SSN = regex.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\d-])")
_SSN_BARE = regex.compile(
    r"(?i)\b(?:ssn|social\s+security(?:\s+(?:number|no\.?|#))?)\s*[:#]?\s*((?!000|666|9\d\d)\d{9})(?!\d)"
)
_TIN = regex.compile(r"(?<![\d-])\d{2}-\d{7}(?![\d-])")
# Four groups of four (the last of one to seven: 13 to 19 digits), or American Express's 4-6-5, with the same
# separator throughout or none; looked for at every start, so a number just before a card does not swallow it.
_CARD = regex.compile(r"(?<![\d-])(?:\d{4}([ -]?)\d{4}\1\d{4}\1\d{1,7}|\d{4}([ -]?)\d{6}\2\d{5})(?![\d-])")
_ACCOUNT = regex.compile(
    r"(?i)\b(?:account|acct|a/c|bank\s+account|routing)\s*(?:number|no\.?|#)?\s*[:#]?\s*(\d[\d -]{4,20}\d)(?!\d)"
)
_IBAN = regex.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_PAYPAL = regex.compile(r"(?i)paypal[^\n]{0,40}?\b((?=[A-Z0-9]*\d)(?=[A-Z0-9]*[A-Z])[A-Z0-9]{13})\b")
_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_BIRTH = regex.compile(
    r"(?i)\b(?:d\.?o\.?b\.?|date\s+of\s+birth|birth\s*date|born(?:\s+on)?)\s*[:#-]?\s*"
    rf"(?:(?P<md>(?:\d{{1,2}}[/.-]\d{{1,2}}[/.-])|(?:{_MONTHS}\.?\s+\d{{1,2}},?\s+)|(?:\d{{1,2}}\s+{_MONTHS}\.?,?\s+))"
    r"(?P<y>(?:19|20)\d{2})"
    r"|(?P<y2>(?:19|20)\d{2})(?P<md2>[/.-]\d{1,2}[/.-]\d{1,2}))"
)
_EMAIL = regex.compile(r"(?i)(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}(?![\w-])")
_STREET = (
    r"(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|terrace|ter|circle|cir|"
    r"parkway|pkwy|highway|hwy)"
)
_ADDRESS = regex.compile(
    rf"\b\d{{1,6}}\s+(?:[A-Z][\w'.-]*\s+){{1,4}}(?i:{_STREET})\b\.?"
    r"(?:,?\s+(?i:apt|suite|ste|unit)\.?\s*#?\s*[\w-]+|,?\s+#\s*[\w-]+)?"
)


@dataclass(frozen=True)
class Hit:
    start: int  # the span to cover
    end: int
    found: str  # the whole of what was found, kept part included
    rule: str
    reason: str
    span: tuple[int, int] = (0, 0)  # where the whole of it is (the kept digits too); (0, 0): start..end


class PatternRefused(ValueError):
    """A case pattern is not a regular expression this server runs: the message says which and why."""


def compile_patterns(patterns: list[str]) -> list[regex.Pattern]:
    out = []
    for n, pattern in enumerate(patterns):
        try:
            compiled = regex.compile(pattern, regex.IGNORECASE | regex.MULTILINE)
        except regex.error as exc:
            raise PatternRefused(f"patterns[{n}] is not a regular expression: {exc}") from None
        if compiled.search("", timeout=PATTERN_SECONDS) is not None:
            raise PatternRefused(f"patterns[{n}] matches empty text, so it would cover nothing and everything")
        out.append(compiled)
    return out


def _luhn(digits: str) -> bool:
    total = 0
    for n, d in enumerate(reversed(digits)):
        v = int(d)
        if n % 2:
            v = v * 2 - 9 if v > 4 else v * 2
        total += v
    return total % 10 == 0


def _keep_last_digits(text: str, start: int, end: int) -> int:
    """Where the cover of a number at text[start:end] ends so that its last KEEP digits stay visible."""
    seen, i = 0, end
    while i > start and seen < KEEP:
        i -= 1
        if text[i].isdigit():
            seen += 1
    while i > start and not text[i - 1].isalnum():  # the separator before the kept digits stays too
        i -= 1
    return i


def _number(text: str, start: int, end: int, rule: str, reason: str) -> Hit:
    return Hit(start, _keep_last_digits(text, start, end), text[start:end], rule, reason, (start, end))


def _rules(text: str, region: str) -> Iterator[Hit]:
    for m in _SSN.finditer(text):
        yield _number(text, m.start(), m.end(), "ssn", SSN_REASON)
    for m in _SSN_BARE.finditer(text):
        yield _number(text, m.start(1), m.end(1), "ssn", SSN_REASON)
    for m in _TIN.finditer(text):
        yield _number(text, m.start(), m.end(), "tin", SSN_REASON)
    for m in _CARD.finditer(text, overlapped=True):
        digits = "".join(c for c in m.group() if c.isdigit())
        if 13 <= len(digits) <= 19 and _luhn(digits):
            yield _number(text, m.start(), m.end(), "card", ACCOUNT_REASON)
    for m in _ACCOUNT.finditer(text):
        yield _number(text, m.start(1), m.end(1), "account", ACCOUNT_REASON)
    for m in _IBAN.finditer(text):
        yield _number(text, m.start(), m.end(), "account", ACCOUNT_REASON)
    for m in _PAYPAL.finditer(text):
        yield Hit(m.start(1), m.end(1) - KEEP, m.group(1), "paypal_account", ACCOUNT_REASON, m.span(1))
    for m in _BIRTH.finditer(text):
        if m.group("md"):
            yield Hit(m.start("md"), m.end("md"), m.group("md") + m.group("y"), "birth_date", BIRTH_REASON)
        else:
            yield Hit(m.start("md2"), m.end("md2"), m.group("y2") + m.group("md2"), "birth_date", BIRTH_REASON)
    for m in _EMAIL.finditer(text):
        yield Hit(m.start(), m.end(), m.group(), "email", EMAIL_REASON)
    for found in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
        yield Hit(found.start, found.end, found.raw_string, "phone", PHONE_REASON)
    for m in _ADDRESS.finditer(text):
        yield Hit(m.start(), m.end(), m.group(), "address", ADDRESS_REASON)


def _folded(text: str) -> tuple[str, list[int]]:
    """The text case-folded, with where each folded character came from (folding may change lengths: ß is ss)."""
    out, where = [], []
    for i, char in enumerate(text):
        folded = char.casefold()
        out.append(folded)
        where.extend([i] * len(folded))
    return "".join(out), where


def find(text: str, *, terms: list[str], patterns: list[regex.Pattern], region: str = "US") -> list[Hit]:
    """Every hit in a page's text; of hits that overlap, the first rule's (the order above) is kept."""
    hits: list[Hit] = []
    for hit in _rules(text, region):
        if hit.end > hit.start:
            hits.append(hit)
    if terms:
        folded, where = _folded(text)
        for term in terms:
            wanted = term.casefold()
            at = folded.find(wanted)
            while at >= 0:
                start, end = where[at], where[at + len(wanted) - 1] + 1
                hits.append(Hit(start, end, text[start:end], "term", TERM_REASON))
                at = folded.find(wanted, at + len(wanted))
    for pattern in patterns:
        try:
            for m in pattern.finditer(text, timeout=PATTERN_SECONDS):
                if m.end() > m.start():
                    hits.append(Hit(m.start(), m.end(), m.group(), "pattern", PATTERN_REASON))
        except TimeoutError:
            continue  # a pattern that runs past its time finds nothing here; the others still run
    kept: list[Hit] = []
    taken: list[tuple[int, int]] = []
    for hit in hits:
        start, end = hit.span if hit.span != (0, 0) else (hit.start, hit.end)
        if any(start < t_end and t_start < end for t_start, t_end in taken):
            continue  # inside or across what a rule before found: the one found first is the one kept
        kept.append(hit)
        taken.append((start, end))
    return sorted(kept, key=lambda h: (h.start, h.end))
