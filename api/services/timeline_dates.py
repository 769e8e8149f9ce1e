"""Fuzzy dates: a written date keeps the precision it was written with, as a span in the case timezone."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from models.inputs import MAX_YEAR, MIN_YEAR
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


_HOUR = timedelta(hours=1)


def stored_text(value: datetime | str) -> str:
    """A stored time as SQLite keeps it ("2021-03-04 17:30:00.000000", UTC), whichever driver read it."""
    if type(value) is str:
        return value
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def utc_text(value: datetime | str) -> str:
    """ISO 8601 in UTC with a Z, as the API writes times: "2021-03-04T17:30:00Z" (microseconds if any)."""
    if type(value) is str:
        return f"{value[:10]}T{value[11:19]}{'' if value.endswith('.000000') else value[19:]}Z"
    return value.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def _aware(value: datetime | str) -> datetime:
    if type(value) is str:
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


_UNSEEN = object()
_TWO_DIGITS = [f"{h:02d}" for h in range(24)]
_CLOCK_HOURS = [str(h % 12 or 12) for h in range(24)]


class EventClock:
    """UTC and local ISO text and the court-style date of many stored times (a CSV export formats a million).

    Works on the timestamp text and reuses, for every event in the same UTC hour, what depends only on the
    hour: the local date and hour, the offset and the zone name (worked out a UTC day at a time). An hour whose
    offset changes within it, or is not whole hours (India, Nepal, historic local mean time), is formatted one
    event at a time instead.
    """

    def __init__(self, tz_name: str, *, hourly: bool = True, entries: int = 4096, whole_days: bool = True):
        self.clock = LocalClock(tz_name)
        # An export (rows in time order) works out a UTC day's hours at once; a page, whose rows may each fall on
        # another day (a rare tag over three years), one hour at a time.
        self.whole_days = whole_days
        self._hours: dict[str, tuple | None] = {}
        self.hourly = hourly
        self._max_entries = entries  # per cache: rows come in time order, so old entries are rarely asked again
        # For csv_fields: per precision, each hour's CSV text around the minutes and seconds.
        self._joined: dict[str, dict[str, tuple | None]] = {"second": {}, "minute": {}} if hourly else {}
        # Years, months and days by their stored span: few, and on every page of the time they cover.
        self._coarse: dict[tuple, tuple[str, str, str]] = {}

    def _hour(self, key: str) -> tuple | None:
        entry = self._hours.get(key, _UNSEEN)  # one lookup: a shared clock may be cleared by another thread
        if entry is not _UNSEEN:
            return entry
        if not self.hourly:
            return None
        if len(self._hours) + 24 > self._max_entries:
            self._hours.clear()
        hours = self._day(key[:10], None if self.whole_days else int(key[11:13]))
        self._hours.update(hours)
        return hours[key]

    def _day(self, day: str, only: int | None = None) -> dict[str, tuple | None]:
        """The hour entries of a UTC day (or of its hour `only`), worked out together: the zone is asked once per
        hour boundary, and the text is joined from pieces made once per local date. An hour whose ends differ in
        offset, or whose offset is not whole hours, gets None."""
        midnight = datetime.fromisoformat(day).replace(tzinfo=UTC)
        first, last = (0, 24) if only is None else (only, only + 1)
        bounds = {h: self.clock.local(midnight + timedelta(hours=h)) for h in range(first, last + 1)}
        offsets = {h: local.utcoffset() for h, local in bounds.items()}
        hours: dict[str, tuple | None] = {}
        dates: dict[tuple, tuple[str, str]] = {}
        for h in range(first, last):
            local = bounds[h]
            entry = None
            if offsets[h] == offsets[h + 1] and not offsets[h] % _HOUR:
                year, month, mday, hour = local.year, local.month, local.day, local.hour
                prefixes = dates.get((year, month, mday))
                if prefixes is None:
                    prefixes = dates[year, month, mday] = (
                        f"{year:04d}-{month:02d}-{mday:02d}T",
                        f"{MONTHS[month - 1]} {mday}, {year}, ",
                    )
                entry = (
                    prefixes[0] + _TWO_DIGITS[hour],
                    self.clock.offset_text(local),
                    prefixes[1] + _CLOCK_HOURS[hour],
                    f" {'AM' if hour < 12 else 'PM'} {local.tzname()}",
                )
            hours[f"{day} {_TWO_DIGITS[h]}"] = entry
        return hours

    def describe(self, at: datetime | str, until: datetime | str, precision: str) -> tuple[str, str, str]:
        """(UTC ISO, local ISO, court-style date) of an event's start, from SQLite's text or an aware datetime."""
        if self.hourly and precision not in COARSE:
            text = at if type(at) is str else stored_text(at)
            hour = self._hour(text[:13])
            if hour is not None:
                fraction = "" if text.endswith(".000000") else text[19:]
                clock = text[13:19] if precision == "second" else text[13:16]
                utc = f"{text[:10]}T{text[11:19]}{fraction}Z"
                return utc, f"{hour[0]}{text[13:19]}{fraction}{hour[1]}", f"{hour[2]}{clock}{hour[3]}"
        elif self.hourly:
            key = (at, until, precision)
            described = self._coarse.get(key)
            if described is None:
                if len(self._coarse) >= self._max_entries:
                    self._coarse.clear()
                described = self._coarse[key] = self._one(at, until, precision)
            return described
        return self._one(at, until, precision)

    def _one(self, at: datetime | str, until: datetime | str, precision: str) -> tuple[str, str, str]:
        start = _aware(at)
        local = self.clock.local(start)
        until = _aware(until) if precision in COARSE else start
        return utc_text(at), self.clock.iso(local), self.clock.display(start, until, precision, local)

    def csv_fields(self, at: str, until: str, precision: str) -> str:
        """The CSV text `utc,local,precision,"date"` of an event's start, exactly as describe() gives the three
        values, from the stored text. A million rows in an export: each hour's text is joined once, so a row
        adds only its minutes, seconds and fraction."""
        hours = self._joined.get(precision)
        if hours is not None and type(at) is str:
            joined = hours.get(at[:13], _UNSEEN)
            if joined is _UNSEEN:
                joined = self._join(hours, at[:13], precision)
            if joined is not None:
                head, middle, tail, end = joined
                minutes = at[13:19]  # ":MM:SS"
                fraction = "" if at.endswith(".000000") else at[19:]
                clock = minutes if precision == "second" else at[13:16]
                return f"{head}{minutes}{fraction}{middle}{minutes}{fraction}{tail}{clock}{end}"
        utc, local, date = self.describe(at, until, precision)
        return f'{utc},{local},{precision},"{date}"'

    def _join(self, hours: dict, key: str, precision: str) -> tuple | None:
        if len(hours) >= self._max_entries:
            hours.clear()
        hour = self._hour(key)
        joined = None
        if hour is not None:
            iso, suffix, day, meridiem = hour
            joined = (f"{key[:10]}T{key[11:13]}", f"Z,{iso}", f'{suffix},{precision},"{day}', f'{meridiem}"')
        hours[key] = joined
        return joined


@lru_cache(maxsize=32)
def page_clock(tz_name: str) -> EventClock:
    """One EventClock per timezone shared by every page request, so the hours a page formats stay known to
    the next request that shows them. Its cache is small: an export uses a clock of its own."""
    return EventClock(tz_name, entries=1024, whole_days=False)


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
