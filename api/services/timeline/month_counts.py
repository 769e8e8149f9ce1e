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
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from sqlalchemy import Select, bindparam, func, select
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


@lru_cache(maxsize=16)
def _summed_statement(by_month: bool, by_kind: bool, by_disputed: bool) -> Select:
    """Rows of some slots summed per (month, kind, disputed), built once per shape (named parameters only)."""
    where = [col(C.case_id) == bindparam("case_id"), col(C.slot).in_(bindparam("slots", expanding=True))]
    if by_month:
        where.append(col(C.month).in_(bindparam("months", expanding=True)))
    if by_kind:
        where.append(col(C.kind).in_(bindparam("kinds", expanding=True)))
    if by_disputed:
        where.append(col(C.disputed) == bindparam("disputed"))
    key = (col(C.month), col(C.kind), col(C.disputed))
    return select(*key, func.sum(col(C.events))).where(*where).group_by(*key)


class _Counts:
    """Events of a filter before any instant, from the rows (and the events, for what falls between hours)."""

    def __init__(self, session: Session, case_id, f: TimelineFilter, points: list[datetime]):
        self.session, self.case_id, self.f = session, case_id, f
        totals: defaultdict[str, Tally] = defaultdict(Counter)
        for month, kind, disputed, n in self._summed(("all",), None):
            totals[month][(kind, bool(disputed))] += n
        self.months = sorted(totals)
        self.totals = totals
        self.before_month: list[Tally] = [Counter()]  # before_month[i]: events of the months before months[i]
        for month in self.months:
            self.before_month.append(self.before_month[-1] + totals[month])
        # The edge hours each point needs, summed by the database: the points of a timezone need one run of
        # hours, or two where the clocks change, so a few hundred rows come back rather than every hour's.
        needed: defaultdict[tuple[str, ...], set[str]] = defaultdict(set)
        for point in points:
            if slots := tuple(self._slots_for(point)):
                needed[slots].add(_month(point))
        self.edges: defaultdict[tuple[str, tuple[str, ...]], Tally] = defaultdict(Counter)
        for slots, months in needed.items():
            for month, kind, disputed, n in self._summed(slots, sorted(months)):
                self.edges[(month, slots)][(kind, bool(disputed))] += n
        self.live: Select | None = None  # the statement that counts events themselves, built if needed

    def _summed(self, slots: tuple[str, ...], months: list[str] | None):
        """(month, kind, disputed, events) of the filter in these slots (of these months), summed over the slots."""
        stmt = _summed_statement(months is not None, bool(self.f.kinds), self.f.disputed is not None)
        values = {"case_id": self.case_id, "slots": list(slots), "months": months or [], "kinds": list(self.f.kinds)}
        return self.session.connection().execute(stmt, values | {"disputed": self.f.disputed}).all()

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
        if self.live is None:
            piece = [col(E.occurred_at) >= bindparam("piece_from"), col(E.occurred_at) < bindparam("piece_to")]
            counted = select(col(E.kind), col(E.disputed), func.count()).where(*filter_conditions(self.f), *piece)
            self.live = counted.group_by(col(E.kind), col(E.disputed))
        values = bind_values(self.case_id, self.f) | {"piece_from": start, "piece_to": end}
        result = self.session.connection().execute(self.live, values)
        return Counter({(kind, bool(disputed)): n for kind, disputed, n in result})

    def _slot_sum(self, month: str, slots: list[str]) -> Tally:
        return self.edges.get((month, tuple(slots)), Counter())

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
