"""Dates as the case reads them: fuzzy dates that keep the precision they were written with (a span in the case
timezone), exact instants parsed from user text, and conversions of stored or naive times to aware UTC.

Formatting many stored times at once (page and export rows) is api/event_clock.py, built on LocalClock here.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from models.inputs import MAX_YEAR, MIN_YEAR, text_problem, year_problem
from models.timeline import Precision

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# Longest span each precision can cover, DST days and leap years included. An event that starts more than
# this before a range cannot reach into it, which keeps the search for straddling events an index range.
MAX_SPAN = {
    Precision.year: timedelta(days=367),
    Precision.month: timedelta(days=32),
    Precision.day: timedelta(hours=26),
    Precision.minute: timedelta(minutes=1),
    Precision.second: timedelta(seconds=1),
}

_YEAR = re.compile(r"\d{4}")
_MONTH = re.compile(r"\d{4}-\d{2}")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ](\d{2}):(\d{2})(:\d{2}(?:[.,]\d+)?)?(?:Z|z|[+-]\d{2}:?\d{2}(?::\d{2})?)?")


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True)
class Span:
    start: datetime  # aware, UTC
    until: datetime  # aware, UTC, exclusive
    precision: Precision


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


def _calendar_span(day: date, precision: Precision, tz: ZoneInfo) -> Span:
    """The local year, month or day containing `day`, as UTC instants."""
    if precision is Precision.year:
        first, after = date(day.year, 1, 1), date(day.year + 1, 1, 1)
    elif precision is Precision.month:
        first = date(day.year, day.month, 1)
        after = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    else:
        first, after = day, day + timedelta(days=1)
    return Span(_local_midnight(first, tz), _local_midnight(after, tz), precision)


def _check_year(year: int, text: str) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"{text[:64]!r} is outside the years {MIN_YEAR} to {MAX_YEAR}")


def parse_when(text: str, tz_name: str, precision: Precision | None = None) -> Span:
    """Read 2021, 2021-03, 2021-03-04, or a datetime (ISO 8601) as a span.

    Without an offset the text is local time in `tz_name`. `precision` may coarsen what the text gives
    (a datetime with precision "month" means its month, in the case timezone), never refine it.
    """
    value = (text or "").strip()
    tz = zone(tz_name)
    try:
        if _YEAR.fullmatch(value):
            written, day = Precision.year, date(int(value), 1, 1)
        elif _MONTH.fullmatch(value):
            written, day = Precision.month, date(int(value[:4]), int(value[5:7]), 1)
        elif _DAY.fullmatch(value):
            written, day = Precision.day, date.fromisoformat(value)
        elif match := _TIME.fullmatch(value):
            written = Precision.second if match.group(3) else Precision.minute
            instant = datetime.fromisoformat(value.replace("z", "Z").replace(",", "."))
            if instant.tzinfo is None:
                instant = instant.replace(tzinfo=tz)
            day = None
        else:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"{value[:64]!r} is not a date: use ISO 8601 such as 2021, 2021-03, 2021-03-04, "
            "2021-03-04T17:30 or 2021-03-04T17:30:05-08:00"
        ) from None
    _check_year(int(value[:4]), value)
    precision = precision or written
    if precision.rank > written.rank:
        raise ValueError(f"{value[:64]!r} gives only {written.value} precision, not {precision.value}")
    if day is None:
        if precision is Precision.second:
            start = instant.astimezone(UTC)
            return Span(start, start + timedelta(seconds=1), precision)
        if precision is Precision.minute:
            start = instant.astimezone(UTC).replace(second=0, microsecond=0)
            return Span(start, start + timedelta(minutes=1), precision)
        day = instant.astimezone(tz).date()
    return _calendar_span(day, precision, tz)


def parse_bound(text: str, tz_name: str, *, field: str) -> datetime:
    """A query bound (start or end): the first instant of what the text names, in UTC."""
    try:
        return parse_when(text, tz_name).start
    except ValueError as exc:
        raise ValueError(f"{field}: {exc}") from None


def parse_instant(text: str, tz_name: str, *, field: str) -> datetime:
    """ISO 8601 date or datetime -> aware UTC. No offset means the case timezone; a bare date means local midnight."""
    value = text.strip()
    if problem := text_problem(value):
        raise ValueError(f"{field} {problem}")
    try:
        if len(value) == 10:
            parsed = datetime.combine(date.fromisoformat(value), time())
        else:
            parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise ValueError(
            f"{field}: {text[:100]!r} is not an ISO 8601 date or datetime (e.g. 2021-03-04T17:30:00-08:00)"
        ) from None
    if problem := year_problem(parsed):
        raise ValueError(f"{field} {problem}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(tz_name))
    return parsed.astimezone(UTC)


def local_as_utc(value: datetime, tz_name: str) -> datetime:
    """An already-parsed datetime (JSON body) -> aware UTC, reading a naive one in the case timezone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(tz_name))
    return value.astimezone(UTC)


def stored_as_utc(value: datetime | str) -> datetime:
    """A stored time as a driver returns it (SQLite's text, a naive or aware datetime) -> aware UTC; stored
    times are UTC, so a naive one is read as UTC."""
    if isinstance(value, str):  # SQLite's stored text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def instant_span(instant: datetime, tz_name: str) -> Span:
    """Span for an evidence timestamp: local midnight reads as a bare date, whole minutes as minutes."""
    instant = instant.astimezone(UTC)
    local = instant.astimezone(zone(tz_name))
    if (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0):
        return _calendar_span(local.date(), Precision.day, zone(tz_name))
    if (local.second, local.microsecond) == (0, 0):
        return Span(instant, instant + timedelta(minutes=1), Precision.minute)
    return Span(instant, instant + timedelta(seconds=1), Precision.second)


def written_form(start: datetime, until: datetime, precision: Precision, tz_name: str) -> str:
    """The text parse_when would read back as this span (used when only the precision changes)."""
    precision = Precision(precision)
    local = _anchor(start, until, precision.value).astimezone(zone(tz_name))
    if precision is Precision.year:
        return f"{local.year:04d}"
    if precision is Precision.month:
        return f"{local.year:04d}-{local.month:02d}"
    if precision is Precision.day:
        return local.date().isoformat()
    return start.astimezone(zone(tz_name)).isoformat()


def following(text: str, tz_name: str) -> str:
    """The date just after the span `text` names, written at the same precision ("2021-03" -> "2021-04", "2021" ->
    "2022"): a "to" date a person means to include, as the exclusive end a timeline filter takes."""
    span = parse_when(text, tz_name)
    return written_form(span.until, span.until, span.precision, tz_name)


def editable_form(start: datetime, until: datetime, precision: Precision | str, tz_name: str) -> str:
    """The text a person edits a date as, which parse_when reads back as this very span: "2021-03" for a month,
    "2021-03-04T17:30-08:00" for a minute (with its offset, so an hour a clock change repeats stays the one it was,
    and without seconds it does not know)."""
    precision = Precision(precision)
    if precision in (Precision.minute, Precision.second):
        clock = LocalClock(tz_name)
        local = clock.local(start)
        written = local.strftime("%Y-%m-%dT%H:%M:%S" if precision is Precision.second else "%Y-%m-%dT%H:%M")
        return written + clock.offset_text(local)
    return written_form(start, until, precision, tz_name)


COARSE = frozenset({"year", "month", "day"})


def _anchor(start: datetime, until: datetime, precision: str) -> datetime:
    # The middle of a calendar span names its day, month or year even if the case timezone changed since.
    return start + (until - start) / 2 if precision in COARSE else start


class LocalClock:
    """Formats many instants in one timezone. An export formats a million, so this avoids enum conversions
    and caches the "+HH:MM" text of each offset; precision is compared as the plain string it is stored as."""

    def __init__(self, tz_name: str):
        self.tz = zone(tz_name)
        self._suffixes: dict = {}

    def local(self, instant: datetime) -> datetime:
        return instant.astimezone(self.tz)

    def offset_text(self, local: datetime) -> str:
        """The "+HH:MM" that datetime.isoformat() ends `local` with."""
        offset = local.utcoffset()
        suffix = self._suffixes.get(offset)
        if suffix is None:
            suffix = self._suffixes[offset] = local.isoformat()[len(local.replace(tzinfo=None).isoformat()) :]
        return suffix

    def iso(self, local: datetime) -> str:
        """ISO 8601 with the offset, as datetime.isoformat() writes it."""
        return local.replace(tzinfo=None).isoformat() + self.offset_text(local)

    def display(self, start: datetime, until: datetime, precision: str, local: datetime | None = None) -> str:
        """As a court document writes it: "2021", "March 2021", "March 4, 2021", "March 4, 2021, 5:30 PM PST"."""
        if precision in COARSE:
            local = _anchor(start, until, precision).astimezone(self.tz)
            if precision == "year":
                return str(local.year)
            if precision == "month":
                return f"{MONTHS[local.month - 1]} {local.year}"
            return f"{MONTHS[local.month - 1]} {local.day}, {local.year}"
        local = local or start.astimezone(self.tz)
        hour = local.hour
        seconds = f":{local.second:02d}" if precision == "second" else ""
        return (
            f"{MONTHS[local.month - 1]} {local.day}, {local.year}, {hour % 12 or 12}:{local.minute:02d}{seconds} "
            f"{'AM' if hour < 12 else 'PM'} {local.tzname()}"
        )


def display(start: datetime, until: datetime, precision: Precision | str, tz_name: str) -> str:
    """A date as a court document writes it, e.g. "March 2021" for a month."""
    return LocalClock(tz_name).display(start, until, str(precision))


def month_starts(first: datetime, last: datetime, tz_name: str) -> list[tuple[str, datetime]]:
    """("YYYY-MM", local start of that month in UTC) for every month from first's to last's, in the case timezone."""
    tz = zone(tz_name)
    a, b = first.astimezone(tz), last.astimezone(tz)
    year, month, out = a.year, a.month, []
    while (year, month) <= (b.year, b.month):
        out.append((f"{year:04d}-{month:02d}", _local_midnight(date(year, month, 1), tz)))
        year, month = year + (month == 12), month % 12 + 1
    return out
