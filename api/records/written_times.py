"""Times as exports write them, for the records of a file that does not write ISO 8601: a payment processor's
`03/04/2021`, `17:30:00` and `PST` in three columns, a review export's `March 4, 2021 5:30 PM`.

Read strictly, as a court would want them read: a date, an optional time of day, an optional zone, and nothing
else. `03/04/2021` is the 4th of March or the 3rd of April depending on who wrote it, so a date of numbers that does
not start with its year is read only in the order the record set says (`date_order`: `mdy` or `dmy`), never
guessed from whether a day is over 12. A time with no zone is in the case's timezone, as everywhere else.

Zones: `Z`, `UTC`, `GMT`, an offset (`+08:00`, `-0800`, `UTC+8`, `GMT-07:00`), a zone name (`America/Los_Angeles`)
or one of the abbreviations below. An abbreviation that names two offsets in common use (IST: India, Israel or
Ireland; AST; ...) is refused, asking for the offset; CST is US Central time, as US exports (PayPal's among them)
write it.
"""

import re
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfoNotFoundError

from api.dates import zone as named_zone
from models.inputs import MAX_YEAR, MIN_YEAR

DATE_ORDERS = ("mdy", "dmy")

ABBREVIATIONS = {
    "UTC": 0, "UT": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 1, "BST": 1, "CET": 1, "CEST": 2, "MET": 1, "MEST": 2,
    "EET": 2, "EEST": 3, "MSK": 3,
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7, "AKST": -9, "AKDT": -8,
    "HST": -10, "NST": -3.5, "NDT": -2.5,
    "JST": 9, "KST": 9, "HKT": 8, "SGT": 8, "PHT": 8, "WIB": 7, "ICT": 7, "PKT": 5,
    "AEST": 10, "AEDT": 11, "ACST": 9.5, "ACDT": 10.5, "AWST": 8, "NZST": 12, "NZDT": 13,
}  # fmt: skip
AMBIGUOUS = {"IST": "India, Israel or Ireland", "AST": "Atlantic or Arabia", "ADT": "Atlantic or Arabia",
             "CCT": "China or Cocos", "SST": "Samoa or Singapore", "ECT": "Ecuador or Eastern Caribbean"}  # fmt: skip

MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )  # fmt: skip
    for name in names
}

_NUMBERS = re.compile(r"(\d{1,4})([/.\-])(\d{1,2})\2(\d{1,4})")
_NAMED = re.compile(  # "March 4, 2021", "Mar 4 2021", "4 March 2021", "4-Mar-2021"
    r"(?:(?P<m1>[a-z]{3,9})\.?\s+(?P<d1>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y1>\d{4})"
    r"|(?P<d2>\d{1,2})(?:st|nd|rd|th)?[\s\-]+(?P<m2>[a-z]{3,9})\.?,?[\s\-]+(?P<y2>\d{4}))",
    re.IGNORECASE,
)
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?(?:\s*([ap])\.?m\.?)?", re.IGNORECASE)
_OFFSET = re.compile(r"(?:(?:UTC|GMT)\s*)?([+\-])(\d{1,2})(?::?(\d{2}))?", re.IGNORECASE)
_SEPARATOR = re.compile(r"[\sT,]*")


class NotATime(ValueError):
    """The text is not a time this module reads: the message says why, for the person who mapped the file."""


def read(text: str, tz_name: str, date_order: str | None) -> datetime:
    """A time written as an export writes it -> aware UTC. NotATime says what is wrong."""
    value = text.strip()
    day, rest = _date(value, date_order)
    at, rest = _time_of_day(rest)
    zone = _zone(rest.strip(), value)
    local = datetime.combine(day, at)
    if zone is None:
        zone = named_zone(tz_name)
    return local.replace(tzinfo=zone).astimezone(UTC)


def _date(value: str, date_order: str | None) -> tuple[date, str]:
    if match := _NUMBERS.match(value):
        first, _, second, third = match.groups()
        if len(first) == 4:
            year, month, day = int(first), int(second), int(third)
        elif len(third) not in (2, 4):
            raise NotATime(f"{value[:60]!r}: the year of a date must have four digits (or two)")
        elif date_order is None:
            raise NotATime(
                f"{value[:60]!r}: is {first}/{second} month then day, or day then month? Say the file's date order "
                "(date_order: mdy or dmy)"
            )
        else:
            year = int(third) + (2000 if len(third) == 2 else 0)
            month, day = (int(first), int(second)) if date_order == "mdy" else (int(second), int(first))
        return _day(year, month, day, value), value[match.end() :]
    if match := _NAMED.match(value):
        month_name = (match["m1"] or match["m2"]).lower()
        if month_name not in MONTHS:
            raise NotATime(f"{value[:60]!r}: {month_name!r} is not the name of a month")
        number = MONTHS[month_name]
        year, day = (int(match["y1"]), int(match["d1"])) if match["m1"] else (int(match["y2"]), int(match["d2"]))
        return _day(year, number, day, value), value[match.end() :]
    raise NotATime(
        f"{value[:60]!r} is not a time: write it as ISO 8601 (2021-03-04T17:30:00-08:00), or as a date "
        "(03/04/2021 with the date order said, or March 4, 2021) with a time and a zone if it has them"
    )


def _day(year: int, month: int, day: int, value: str) -> date:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise NotATime(f"{value[:60]!r}: the year {year} is outside {MIN_YEAR} to {MAX_YEAR}")
    try:
        return date(year, month, day)
    except ValueError:
        raise NotATime(f"{value[:60]!r}: there is no day {day} of month {month} in {year}") from None


def _time_of_day(rest: str) -> tuple[time, str]:
    rest = rest[_SEPARATOR.match(rest).end() :]  # type: ignore[union-attr]
    match = _TIME.match(rest)
    if match is None:
        return time(), rest
    hour, minute = int(match[1]), int(match[2])
    second = int(match[3] or 0)
    micro = int((match[4] or "0").ljust(6, "0"))
    if match[5]:
        if not 1 <= hour <= 12:
            raise NotATime(f"{match[0]!r}: an hour before AM or PM is 1 to 12")
        hour = hour % 12 + (12 if match[5].lower() == "p" else 0)
    if hour > 23 or minute > 59 or second > 59:
        raise NotATime(f"{match[0]!r} is not a time of day")
    return time(hour, minute, second, micro), rest[match.end() :]


def _zone(rest: str, value: str) -> tzinfo | None:
    if not rest:
        return None
    upper = rest.upper()
    if upper in ABBREVIATIONS:
        return _fixed(ABBREVIATIONS[upper] * 60)
    if upper in AMBIGUOUS:
        raise NotATime(f"{value[:60]!r}: {rest} may be {AMBIGUOUS[upper]} time; write the offset (e.g. +05:30)")
    if match := _OFFSET.fullmatch(rest):
        sign, hours, minutes = match.groups()
        total = int(hours) * 60 + int(minutes or 0)
        if total > 14 * 60 or int(minutes or 0) > 59:
            raise NotATime(f"{value[:60]!r}: {rest} is not an offset from UTC")
        return _fixed(-total if sign == "-" else total)
    if "/" in rest and len(rest) < 64:
        try:
            return named_zone(rest)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise NotATime(f"{value[:60]!r}: {rest[:30]!r} is not a time zone this reads (an offset, UTC, PST, Europe/Paris)")


@lru_cache(maxsize=64)
def _fixed(minutes: float) -> tzinfo:
    return UTC if minutes == 0 else timezone(timedelta(minutes=minutes))
