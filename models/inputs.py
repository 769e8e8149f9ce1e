"""What a user may send: every limit defined once, and the types and checks that hold the API, the imports and the
command line to them.

Text: no NUL character (PostgreSQL text cannot hold one) and no unpaired surrogate (it has no UTF-8 spelling),
refused the same way on both databases; each field at most its number of characters. Numbers taken from JSON are
whole JSON integers (`true` is not 1) within what their column holds. Dates stay within years that convert to
UTC and back in every timezone. JSON is decoded by models.safe_json.load_json, held to the JSON limits here.
"""

import string
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError
from pydantic_core import PydanticCustomError

# Text, in characters.
CASE_TITLE_CHARS = 500
DOCKET_NUMBER_CHARS = 100
COURT_CHARS = 300
PARTY_NAME_CHARS = 300
PARTY_ROLE_CHARS = 100
PARTIES_MAX = 200
BATES_PREFIX_CHARS = 30
LABEL_TEMPLATE_CHARS = 50
TIMEZONE_CHARS = 64
REASON_CHARS = 2000  # a legal hold's reason, a deletion's reason
EMAIL_CHARS = 320
PASSWORD_MIN_CHARS, PASSWORD_CHARS = 8, 1000
FULL_NAME_CHARS = 200
TOKEN_NAME_CHARS = 100
EVIDENCE_TITLE_CHARS = 2000
NOTE_CHARS = 100_000  # an evidence item's description, an exhibit's note
SOURCE_URL_CHARS = 8000
CUSTODIAN_CHARS = 2000
TAG_CHARS, TAGS_MAX = 100, 100
TAGS_TEXT_CHARS = TAGS_MAX * (TAG_CHARS + 2)  # tags written "a, b, c"
FACT_CHARS = 20_000  # one text value in an evidence item's facts
FACTS_JSON_CHARS = 200_000  # all of an item's facts, written as JSON
FACT_KEYS_MAX, FACT_KEY_CHARS, FACT_LIST_MAX = 100, 100, 1000  # free-form facts: keys, a key, values in a list
EXHIBIT_LABEL_CHARS = 100
BUNDLE_TITLE_CHARS = 500
EVENT_TEXT_CHARS = 65_536  # a timeline event's title or description, as typed or imported
WRITTEN_DATE_CHARS = 64  # a date as text: "2021-03", "2021-03-04T17:30:00-08:00"
SEARCH_CHARS = 500
SEARCH_QUERY_CHARS = 1000  # a full-text search's q (GET /search)
FILTER_VALUES_MAX = 20  # values of one repeated query parameter (tags, kinds)
CHOICE_CHARS = 1000  # one value of such a parameter, or several separated by commas
CURSOR_CHARS = 1000
ANCHORS_MAX = 1000
BUNDLE_EXHIBITS_MAX = 10_000  # exhibits named in one bundle request

# Numbers.
PAGE_MAX = 1_000_000  # a page of a piece of evidence
POSITION_MAX = 1_000_000  # a place in a case's exhibit order
BATES_DIGITS_MIN, BATES_DIGITS_MAX = 4, 12
BATES_NUMBER_MAX = 10**BATES_DIGITS_MAX - 1
VOLUME_MB_MAX = 10_000
SEQ_MAX = 2**63 - 1  # an audit event's place in the chain (a 64-bit column)
AMOUNT_MAX = 10**15  # a sum of money in facts
TOKEN_DAYS_MAX = 3650
LABEL_NUMBER_MAX = 10**9  # exhibit numbers a label template must still fit

# Dates: the years any instant in them can be shown in any timezone (datetime keeps years 1 to 9999).
MIN_YEAR, MAX_YEAR = 1000, 9998

# JSON.
JSON_DEPTH_MAX = 20
JSON_INT_MIN, JSON_INT_MAX = -(2**63), 2**63 - 1


def text_problem(value: str) -> str | None:
    """What keeps a string from being stored as text on both databases, in words; None when nothing does."""
    if "\x00" in value:
        return "contains a NUL character (\\u0000), which cannot be stored"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return (
                f"contains an unpaired surrogate (\\u{ord(value[exc.start]):04x} at character {exc.start + 1}), "
                "which is not a character: send text as UTF-8"
            )
    return None


class FormRefused(Exception):
    """A form refused as a whole (a field it must have is missing, or one it cannot take is sent), with the one
    message to answer. Not a ValueError on purpose: raised from a validator, pydantic passes it on as it is
    instead of folding it into a ValidationError."""


def _storable(value: Any) -> Any:
    if isinstance(value, str) and (problem := text_problem(value)):
        kind = "string_nul" if "NUL" in problem else "string_surrogate"
        raise PydanticCustomError(kind, "Text " + problem)
    return value


def text(max_chars: int, *, min_chars: int | None = None, **field: Any) -> Any:
    """A text field of at most `max_chars` characters that both databases can store (checked first)."""
    return Annotated[str, Field(min_length=min_chars, max_length=max_chars, **field), BeforeValidator(_storable)]


def whole(ge: int, le: int, **field: Any) -> Any:
    """A JSON integer from `ge` to `le`; a boolean, a float or a string of digits is refused."""
    return Annotated[int, Field(strict=True, ge=ge, le=le, **field)]


def describe_errors(exc: ValidationError, root: str = "") -> str:
    """A pydantic ValidationError as one line a person can act on: "title: String should have at most 2000
    characters; tags.0: ...". The values sent are not repeated (they may be long, or unprintable)."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or root
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def year_problem(value: date) -> str | None:
    if MIN_YEAR <= value.year <= MAX_YEAR:
        return None
    return f"is out of range (the year {value.year}): dates must be in the years {MIN_YEAR} to {MAX_YEAR}"


def _in_years(value: date) -> date:
    if problem := year_problem(value):
        raise PydanticCustomError("date_range", "Date " + problem)
    return value


Instant = Annotated[datetime, AfterValidator(_in_years)]
Day = Annotated[date, AfterValidator(_in_years)]

# Shared field types: the same definition wherever the field is taken (create, update, upload form, import).
CaseTitle = text(CASE_TITLE_CHARS, min_chars=1)
DocketNumber = text(DOCKET_NUMBER_CHARS)
Court = text(COURT_CHARS)
BatesPrefix = text(BATES_PREFIX_CHARS)
# Printed on every bundle page: letters, digits, "-" and "_" only.
BATES_PREFIX_PATTERN = r"^[A-Za-z0-9_\-]*$"
CaseBatesPrefix = text(BATES_PREFIX_CHARS, pattern=BATES_PREFIX_PATTERN)
LabelTemplate = text(LABEL_TEMPLATE_CHARS)
Timezone = text(TIMEZONE_CHARS)
Reason = text(REASON_CHARS, min_chars=1)
Email = text(EMAIL_CHARS, min_chars=3)
Password = text(PASSWORD_CHARS, min_chars=PASSWORD_MIN_CHARS)
FullName = text(FULL_NAME_CHARS)
EvidenceTitle = text(EVIDENCE_TITLE_CHARS, min_chars=1)
Note = text(NOTE_CHARS)
SourceUrl = text(SOURCE_URL_CHARS)
Custodian = text(CUSTODIAN_CHARS)
Tag = text(TAG_CHARS)
FactText = text(FACT_CHARS)
ExhibitLabel = text(EXHIBIT_LABEL_CHARS, min_chars=1)
BundleTitle = text(BUNDLE_TITLE_CHARS)
EventTitle = text(EVENT_TEXT_CHARS, min_chars=1)
EventText = text(EVENT_TEXT_CHARS)
WrittenDate = text(WRITTEN_DATE_CHARS, min_chars=4)
DateBound = text(WRITTEN_DATE_CHARS)  # a query's start or end: left blank, no bound
SearchText = text(SEARCH_CHARS)
SearchQuery = text(SEARCH_QUERY_CHARS)
Choice = text(CHOICE_CHARS)
Cursor = text(CURSOR_CHARS)
TokenName = text(TOKEN_NAME_CHARS, min_chars=1)
PartyName = text(PARTY_NAME_CHARS, min_chars=1)
PartyRole = text(PARTY_ROLE_CHARS, min_chars=1)
TagsText = text(TAGS_TEXT_CHARS)  # a whole tag list, written "a, b, c"
FactsJson = text(FACTS_JSON_CHARS)
PageNumber = whole(1, PAGE_MAX, description="Page of the evidence; needs evidence_id.")
Position = whole(1, POSITION_MAX)
Seq = whole(1, SEQ_MAX)
BatesNumber = whole(1, BATES_NUMBER_MAX)
BatesDigits = whole(BATES_DIGITS_MIN, BATES_DIGITS_MAX)
VolumeMegabytes = Annotated[float, Field(strict=True, gt=0, le=VOLUME_MB_MAX)]


def label_problem(template: str) -> str | None:
    """What makes an exhibit label template unusable, in words; None when it numbers exhibits well.

    Widths are read before anything is formatted, so '{n:>99999999}' is refused without building its label."""
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:
        return f"is not a template: {exc} (write {{n}} for the number, e.g. 'PX-{{n:03d}}')"
    for _, name, spec, _ in fields:
        if name is None:
            continue
        if name != "n":
            return "must use only the field {n}, e.g. 'PX-{n:03d}'"
        if "{" in (spec or ""):
            return "cannot put a field inside {n}'s format: write a fixed width such as {n:03d}"
        if any(int(width) > EXHIBIT_LABEL_CHARS for width in _numbers(spec or "")):
            return f"pads labels past {EXHIBIT_LABEL_CHARS} characters, the longest an exhibit label can be"
    try:
        labels = [template.format(n=n) for n in (1, 2)]
        if any(not c.isprintable() for label in labels for c in label):
            return "makes labels with control characters: use letters, digits and punctuation around {n}"
        labels.append(template.format(n=LABEL_NUMBER_MAX))
    except (ValueError, OverflowError, TypeError) as exc:
        return f"cannot number exhibits: {exc}"
    if labels[0] == labels[1]:
        return "must contain {n}, e.g. 'PX-{n:03d}'"
    if max(len(label) for label in labels) > EXHIBIT_LABEL_CHARS:
        return f"makes labels longer than {EXHIBIT_LABEL_CHARS} characters, the longest an exhibit label can be"
    return None


def _numbers(spec: str) -> list[str]:
    runs, digits = [], ""
    for c in spec + " ":
        if c.isdigit():
            digits += c
        elif digits:
            runs.append(digits)
            digits = ""
    return runs
