"""Stored times as the API and exports write them, many at a time: a page formats a thousand, a CSV export a
million, so the text is joined from pieces worked out once per UTC hour (EventClock) instead of one timezone
conversion per row. One time at a time, and date parsing, are api/dates.py.
"""

import enum
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Final, cast

from api.dates import COARSE, MONTHS, LocalClock, stored_as_utc

_HOUR = timedelta(hours=1)


def stored_text(value: datetime | str) -> str:
    """A stored time as SQLite keeps it ("2021-03-04 17:30:00.000000", UTC), whichever driver read it."""
    if type(value) is str:
        return value
    return cast(datetime, value).astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def utc_text(value: datetime | str) -> str:
    """ISO 8601 in UTC with a Z, as the API writes times: "2021-03-04T17:30:00Z" (microseconds if any)."""
    if type(value) is str:
        return f"{value[:10]}T{value[11:19]}{'' if value.endswith('.000000') else value[19:]}Z"
    return cast(datetime, value).astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


class _Unseen(enum.Enum):
    """A cache entry not worked out yet (None is an entry: an hour formatted one event at a time)."""

    UNSEEN = enum.auto()


_UNSEEN: Final = _Unseen.UNSEEN
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
            offset = offsets[h]
            if offset is not None and offset == offsets[h + 1] and not offset % _HOUR:
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
        start = stored_as_utc(at)
        local = self.clock.local(start)
        until = stored_as_utc(until) if precision in COARSE else start
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
