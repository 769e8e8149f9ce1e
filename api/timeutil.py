"""Parsing user-supplied instants: ISO 8601 with an offset, or local time in the case's timezone."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from models.inputs import text_problem, year_problem


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


def as_utc(value: datetime, tz_name: str) -> datetime:
    """An already-parsed datetime (JSON body) -> aware UTC, reading a naive one in the case timezone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(tz_name))
    return value.astimezone(UTC)
