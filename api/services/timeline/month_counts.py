"""A chronology counted per month of the case's timezone from timeline_month_counts (written by triggers, see
models.timeline.TimelineMonthCount) rather than from the events: a million events are a few hundred rows.

Everything is a difference of "events before x": the whole UTC months before x, from the "all" rows, and the part
of x's own month before x, from the edge-hour rows when x is within 14 hours of the month's start or 12 of its
end (where every month of a whole-hour timezone starts). What does not fall on a whole hour there (a timezone
5:30 ahead of UTC, a range that starts mid-month) is counted from the events themselves: a short range of the
time index, the same conditions as any page of the listing.

The rows know kinds and disputed only: a filter by tag, text or evidence kind is counted from the events.
"""

import bisect
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, func, select
from sqlmodel import Session, col

from api.services.timeline.filter import TimelineFilter, bind_values, filter_conditions
from models.timeline import TimelineEvent, TimelineMonthCount

E, C = TimelineEvent, TimelineMonthCount
HOUR = timedelta(hours=1)
HEAD_HOURS, TAIL_HOURS = 14, 12  # the edge hours the rows keep: "+00".."+13" and "-01".."-12"
Tally = Counter[tuple[str, bool]]  # events by (kind, disputed)


def countable(f: TimelineFilter) -> bool:
    """Whether the rows can count this filter's events: kinds, disputed and a range, nothing else."""
    return not (f.tags or f.q or f.evidence_kinds)


def _month(at: datetime) -> str:
    at = at.astimezone(UTC)
    return f"{at.year:04d}-{at.month:02d}"


def _month_start(key: str) -> datetime:
    return datetime(int(key[:4]), int(key[5:7]), 1, tzinfo=UTC)


def _month_after(key: str) -> datetime:
    year, month = int(key[:4]), int(key[5:7])
    return datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)


class _Counts:
    """Events of a filter before any instant, from the rows (and the events, for what falls between hours)."""

    def __init__(self, session: Session, case_id, f: TimelineFilter, points: list[datetime]):
        self.session, self.case_id, self.f = session, case_id, f
        totals: dict[str, Tally] = {}
        for month, _, kind, disputed, n in self._rows(["all"]):
            totals.setdefault(month, Counter())[(kind, bool(disputed))] += n
        self.months = sorted(totals)
        self.totals = totals
        self.before_month: list[Tally] = [Counter()]  # before_month[i]: events of the months before months[i]
        for month in self.months:
            self.before_month.append(self.before_month[-1] + totals[month])
        self.slots: dict[tuple[str, str], Tally] = {}
        wanted = {slot for point in points for slot in self._slots_for(point)}
        for month, slot, kind, disputed, n in self._rows(sorted(wanted)) if wanted else ():
            self.slots.setdefault((month, slot), Counter())[(kind, bool(disputed))] += n
        piece = [col(E.occurred_at) >= bindparam("piece_from"), col(E.occurred_at) < bindparam("piece_to")]
        counted = select(col(E.kind), col(E.disputed), func.count()).where(*filter_conditions(f), *piece)
        self.live = counted.group_by(col(E.kind), col(E.disputed))
        self.values = bind_values(case_id, f)

    def _rows(self, slots: list[str]):
        where = [col(C.case_id) == self.case_id, col(C.slot).in_(slots)]
        if self.f.kinds:
            where.append(col(C.kind).in_(self.f.kinds))
        if self.f.disputed is not None:
            where.append(col(C.disputed) == self.f.disputed)
        stmt = select(col(C.month), col(C.slot), col(C.kind), col(C.disputed), col(C.events)).where(*where)
        return self.session.connection().execute(stmt).all()

    @staticmethod
    def _edge(point: datetime) -> tuple[str, int]:
        """("head", whole hours since the month started) or ("tail", whole hours to its end), or ("", 0)."""
        start, end = _month_start(_month(point)), _month_after(_month(point))
        if point - start < HEAD_HOURS * HOUR:
            return "head", (point - start) // HOUR
        if end - point <= TAIL_HOURS * HOUR:
            return "tail", (end - point) // HOUR
        return "", 0

    def _slots_for(self, point: datetime | None) -> list[str]:
        if point is None:
            return []
        edge, hours = self._edge(point)
        if edge == "head":
            return [f"+{h:02d}" for h in range(hours)]
        return [f"-{h:02d}" for h in range(1, hours + 1)] if edge == "tail" else []

    def _count(self, start: datetime, end: datetime) -> Tally:
        """Events in [start, end), from the events themselves."""
        if end <= start:
            return Counter()
        result = self.session.connection().execute(self.live, self.values | {"piece_from": start, "piece_to": end})
        return Counter({(kind, bool(disputed)): n for kind, disputed, n in result})

    def _slot_sum(self, month: str, slots: list[str]) -> Tally:
        total: Tally = Counter()
        for slot in slots:
            total.update(self.slots.get((month, slot), {}))
        return total

    def _within_month(self, month: str, point: datetime) -> Tally:
        """Events of `month` before `point` (a point in that month)."""
        start, end = _month_start(month), _month_after(month)
        edge, hours = self._edge(point)
        if edge == "head":
            return self._slot_sum(month, self._slots_for(point)) + self._count(start + hours * HOUR, point)
        whole = self.totals[month]
        if edge == "tail":
            after = self._slot_sum(month, self._slots_for(point)) + self._count(point, end - hours * HOUR)
        elif point - start < end - point:
            return self._count(start, point)
        else:
            after = self._count(point, end)
        left = Counter(whole)
        left.subtract(after)
        return left

    def before(self, point: datetime | None) -> Tally:
        """Events of the filter that begin before `point` (None: all of them)."""
        if point is None:
            return self.before_month[-1]
        month = _month(point)
        i = bisect.bisect_left(self.months, month)
        earlier = self.before_month[i]
        if i == len(self.months) or self.months[i] != month:  # no event in point's month
            return earlier
        return earlier + self._within_month(month, point)


def per_bucket(session: Session, case_id, f: TimelineFilter, bounds: list[datetime]) -> list[Tally]:
    """Events of the body of f's range (start <= occurred_at < end) per bucket i: [bounds[i], bounds[i+1]), the
    first bucket open below and the last open above (as the summary's chart counts them), by (kind, disputed).
    Only for a countable(f) filter."""
    low, high = f.start, f.end

    def within(bound: datetime) -> datetime:
        bound = max(bound, low) if low else bound
        return min(bound, high) if high else bound

    points: list[datetime | None] = [low, *(within(b) for b in bounds[1:]), high]
    counts = _Counts(session, case_id, f, [p for p in points if p is not None])
    before = [counts.before(p) if p is not None else Counter() for p in points[:-1]]
    before.append(counts.before(points[-1]))
    out = []
    for i in range(len(points) - 1):
        tally = Counter(before[i + 1])
        tally.subtract(before[i])
        out.append(+tally)  # + drops the zero entries
    return out
