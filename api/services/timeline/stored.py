"""Imported rows in the form the timeline_events columns store, ready for the driver's bulk load.

A million-row import spends its time on each row's checks and conversions, so the rows of the common shapes
(ISO times in UTC, plain text, tags separated by commas, the case's own evidence) take a fast path here that
works on the text with lookups cached per file. Anything else, and every row with a problem, goes through
`rows.normalize_row`, which gives the messages; the fast path accepts only what it would accept, and
stores it the same way.

Rows are built without their ids: they are stored in time order, and given time-ordered ids (StoredForm.new_ids)
as they go, so every index of the table takes them in order.

Stored forms: ids as 32 hex digits on SQLite and the dashed UUID on PostgreSQL; times as UTC text
"YYYY-MM-DD HH:MM:SS.ffffff" (with "+00" on PostgreSQL); tags as the JSON text json.dumps writes; booleans as
0/1 on SQLite and t/f in PostgreSQL's COPY text.
"""

import json
import os
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from api import dates, event_clock
from api.services.timeline.rows import ALIASES, FORMULA_START, FieldError, normalize_row
from models.case import Case
from models.inputs import PAGE_MAX, TAG_CHARS, text_problem
from models.timeline import MAX_TAGS, MAX_TEXT, EventKind, EventSource, TimelineEvent

COLUMNS = [c.name for c in TimelineEvent.metadata.tables["timeline_events"].columns]
assert (
    COLUMNS
    == (
        "id case_id occurred_at occurred_until precision title description kind evidence_id page exhibit_id tags "
        "disputed source created_by created_at updated_at"
    ).split()
), COLUMNS  # the order rows are built in
WHEN = 1  # where occurred_at is in a row without its id: its stored text sorts in time order
TEXT_COLUMNS = tuple(COLUMNS.index(c) for c in ("title", "description", "tags"))
# The columns the fast path reads, in this order; a file naming a Timesketch alias goes the full way.
FAST_COLUMNS = ("occurred_at", "title", "kind", "description", "tags", "evidence_id", "page", "disputed", "precision")
ALIAS_NAMES = frozenset(a for names in ALIASES.values() for a in names) - set(FAST_COLUMNS)
KINDS = {k.value: k.value for k in EventKind}
DISPUTED = {"": False, "true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}
DISPUTED |= {"y": True, "n": False, "TRUE": True, "FALSE": False, "True": True, "False": False}
_TWO = [f"{n:02d}" for n in range(61)]
_CACHE_MAX = 100_000  # entries in each per-file cache (tags, dates, evidence ids)
_ONE_SECOND = timedelta(seconds=1)
_UUID_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


class StoredForm:
    """How one database stores the values: SQLite's text forms, or PostgreSQL's COPY text."""

    def __init__(self, postgres: bool):
        self.postgres = postgres
        self.zone = "+00" if postgres else ""
        self.true: str | int = "t" if postgres else 1
        self.false: str | int = "f" if postgres else 0
        self._millis = 0

    def ident(self, value: uuid.UUID | str) -> str:
        text = value.hex if isinstance(value, uuid.UUID) else value
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}" if self.postgres else text

    def new_ids(self, count: int) -> list[str]:
        """`count` new ids in ascending order: time-ordered UUIDs (version 7, RFC 9562: the milliseconds since
        1970, a counter, 62 random bits). A million rows with random ids would each land at a random place in
        the primary-key index, which costs the load more than everything else; these are appended together."""
        if count > 4096:
            raise ValueError("at most 4096 ids at a time (the 12-bit counter)")
        millis = max(time.time_ns() // 1_000_000, self._millis + 1)  # each call its own millisecond: ascending
        self._millis = millis
        stamp, rand = f"{millis:012x}", os.urandom(8 * count).hex()
        ids = []
        for n, i in enumerate(range(0, 16 * count, 16)):
            text = f"{stamp}7{n:03x}{_UUID_VARIANT[rand[i]]}{rand[i + 1 : i + 16]}"
            ids.append(self.ident(text))
        return ids

    def time(self, value: datetime) -> str:
        return event_clock.stored_text(value) + self.zone

    def line(self, row: tuple) -> str:
        """A row as a line of PostgreSQL's COPY text format."""
        values = [r"\N" if v is None else str(v) for v in row]
        for i in TEXT_COLUMNS:
            text = values[i]
            if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
                values[i] = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
        return "\t".join(values) + "\n"


class RowBuilder:
    """Turns checked rows of one import into stored rows for one case.

    `known_evidence` is every evidence id (as str) the case may cite, loaded once up front. `strict_text` asks
    for the unpaired-surrogate check, which text decoded from UTF-8 cannot fail (JSON escapes can).
    """

    def __init__(self, case: Case, actor_id: uuid.UUID, form: StoredForm, known_evidence: set[str], *, now: datetime,
                 strict_text: bool = False):  # fmt: skip
        self.form, self.tz, self.known = form, case.timezone, known_evidence
        self.strict_text = strict_text
        created = form.time(now)
        self._head = form.ident(case.id)
        self._tail = (EventSource.imported.value, form.ident(actor_id), created, created)
        self._when: dict[str, tuple[str, str, str] | None] = {}
        self._tags: dict[str, str | None] = {}
        self._evidence: dict[str, str | None] = {}
        self._kinds = dict(KINDS)

    def _row(self, at, until, precision, title, description, kind, evidence, page, tags, disputed) -> tuple:
        """A stored row without its id (given when it is stored, in the order rows are stored)."""
        return (self._head, at, until, precision, title, description, kind, evidence, page, None, tags,
                disputed, *self._tail)  # fmt: skip

    # The full way: normalize_row's checks and messages.

    def slow(self, values: dict, row: int) -> tuple[tuple | None, list[FieldError], str | None]:
        """(stored row, [], None), or (None, errors, None), or (None, [], evidence id) when the row is valid but
        cites evidence the case does not have (reported once the whole file is read)."""
        event, errors = normalize_row(values, row, self.tz)
        if event is None:
            return None, errors, None
        evidence = event["evidence_id"]
        if evidence is not None and evidence not in self.known:
            return None, [], evidence
        form = self.form
        stored = self._row(
            form.time(event["occurred_at"]),
            form.time(event["occurred_until"]),
            event["precision"],
            event["title"],
            event["description"],
            event["kind"],
            form.ident(uuid.UUID(evidence)) if evidence is not None else None,
            event["page"],
            json.dumps(event["tags"]),
            form.true if event["disputed"] else form.false,
        )
        return stored, [], None

    # The fast way: the same result for the rows it takes, None for any it does not.

    def fast(self, record: Sequence[str]) -> tuple | None:
        """A row given as strings in FAST_COLUMNS order ("" for absent); None sends it the full way."""
        title: str | bool  # and description: the text as _text gives it (False: the full way must look at it)
        description: str | bool | None
        at, title, kind, description, tags, evidence, page, disputed, precision = record
        if precision:
            return None
        when = self._fast_when(at)
        if when is None:
            return None
        title = self._text(title) if title else ""
        if not title:
            return None
        if description:
            description = self._text(description)
            if description is False:
                return None
        description = description or None
        stored_kind = self._kinds.get(kind) if kind else "other"
        if stored_kind is None:
            return None
        stored_tags = self._tags.get(tags)
        if stored_tags is None:
            stored_tags = self._fast_tags(tags)
            if stored_tags is None:
                return None
        if evidence:
            stored_evidence = self._evidence.get(evidence)
            if stored_evidence is None:
                stored_evidence = self._fast_evidence(evidence)
                if stored_evidence is None:
                    return None
        else:
            stored_evidence = None
        if page:
            if not (page.isascii() and page.isdigit() and evidence):
                return None
            number = int(page)
            if not 1 <= number <= PAGE_MAX:
                return None
        else:
            number = None
        flag = DISPUTED.get(disputed)
        if flag is None:
            return None
        form = self.form
        return self._row(*when, title, description, stored_kind, stored_evidence, number, stored_tags,
                         form.true if flag else form.false)  # fmt: skip

    def _text(self, value: str) -> str | bool:
        """Trimmed text with a formula's ' taken off; "" when blank, False when the full way must look at it."""
        if value[0] == "'" and len(value) > 1 and value[1] in FORMULA_START:
            value = value[1:]
        value = value.strip()
        if "\x00" in value or (self.strict_text and not value.isascii() and text_problem(value)):
            return False
        return value

    def _fast_when(self, text: str) -> tuple[str, str, str] | None:
        """(start, until, precision) stored, for "YYYY-MM-DDTHH:MM:SSZ" worked out here and any other date
        parse_when reads (the coarse ones cached); None when parse_when refuses it."""
        if (
            len(text) == 20
            and text[19] == "Z"
            and text[10] == "T"
            and text[4] == "-"
            and text[7] == "-"
            and text[13] == ":"
            and text[16] == ":"
            and text[11:13] < "24"  # parse_when's datetime.fromisoformat decides on "24:00" itself
            and "1000" <= text[:4] <= "9998"
            and text.isascii()
        ):
            try:
                instant = datetime.fromisoformat(text)  # checks the digits and the calendar
            except ValueError:
                return None
            second = instant.second
            head = f"{text[:10]} {text[11:17]}"
            zone = self.form.zone
            if second < 59:
                return f"{head}{_TWO[second]}.000000{zone}", f"{head}{_TWO[second + 1]}.000000{zone}", "second"
            return f"{head}59.000000{zone}", self.form.time(instant + _ONE_SECOND), "second"
        cached = self._when.get(text)
        if cached is not None:
            return cached
        try:
            span = dates.parse_when(text, self.tz)
        except ValueError:
            return None
        when = (self.form.time(span.start), self.form.time(span.until), span.precision.value)
        if len(text) <= 10:  # a year, month or day: few of them, each on many rows
            if len(self._when) >= _CACHE_MAX:
                self._when.clear()
            self._when[text] = when
        return when

    def _fast_tags(self, text: str) -> str | None:
        """JSON text of the tags written "a, b, c" (as clean_tags keeps them); None for anything else."""
        value = text.strip()
        if value and value[0] == "'" and len(value) > 1 and value[1] in FORMULA_START:
            value = value[1:]
        if value.startswith("[") or "\x00" in value:
            return None
        tags = list(dict.fromkeys(t.strip() for t in value.split(",") if t and t.strip())) if value else []
        if len(tags) > MAX_TAGS or any(len(t) > TAG_CHARS for t in tags):
            return None
        if self.strict_text and not value.isascii() and text_problem(value):
            return None
        stored = json.dumps(tags)
        if len(self._tags) >= _CACHE_MAX:
            self._tags.clear()
        self._tags[text] = stored
        return stored

    def _fast_evidence(self, text: str) -> str | None:
        try:
            evidence = str(uuid.UUID(text.strip()))
        except ValueError:
            return None
        if evidence not in self.known:
            return None
        stored = self.form.ident(uuid.UUID(evidence))
        if len(self._evidence) >= _CACHE_MAX:
            self._evidence.clear()
        self._evidence[text] = stored
        return stored


def fast_layout(header: list[str]) -> list[int | None] | None:
    """Where each of FAST_COLUMNS is in a CSV header (None: absent); None when the file names a Timesketch
    alias, whose rows take the full way."""
    if ALIAS_NAMES & set(header):
        return None
    return [header.index(name) if name in header else None for name in FAST_COLUMNS]


__all__ = ["COLUMNS", "FAST_COLUMNS", "MAX_TEXT", "RowBuilder", "StoredForm", "fast_layout"]
