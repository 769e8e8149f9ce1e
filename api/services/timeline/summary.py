"""A chronology at a glance: counts per kind and per month (for a chart), and its first and last events.

The counts of a filter by kind and disputed come from the month counts the database keeps (timeline.month_counts);
those of a tag, text or evidence-kind filter, and the few events that straddle the start of a range, are counted
from the events."""

from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import case as sql_case
from sqlalchemy import func, literal, select
from sqlmodel import Session, col

from api import dates
from api.errors import UnprocessableEntity
from api.services.timeline import columns, month_counts, query
from api.services.timeline.citations import CitedBundle
from api.services.timeline.filter import PRECISIONS, bind_values, body_range, filter_conditions, straddling_range
from models.case import Case
from models.timeline import TimelineEvent

E = TimelineEvent
MAX_MONTHS = 1200


def _bucket(column, bounds: list, lo: int, hi: int):
    """SQL for the index i of the month [bounds[i], bounds[i+1]) holding `column`, as a balanced CASE tree.

    Portable (no date functions differ between SQLite and PostgreSQL) and log2(months) comparisons a row.
    """
    if hi - lo == 1:
        return literal(lo)
    mid = (lo + hi) // 2
    return sql_case((column < bounds[mid], _bucket(column, bounds, lo, mid)), else_=_bucket(column, bounds, mid, hi))


@dataclass
class Monthly:
    """A selection's events per local month of its span: months[i] is ("YYYY-MM", its start in UTC), tally counts
    events by (i, kind, disputed); first and last are the selection's first and last rows (fetched with labels)."""

    months: list[tuple[str, datetime]]
    tally: Counter[tuple[int, str, bool]]
    first: list[tuple]
    last: list[tuple]

    def per_month(self) -> list[tuple[str, int, int]]:
        """(month, events, disputed events) for every month of the span, empty months included."""
        events, disputed = [0] * len(self.months), [0] * len(self.months)
        for (i, _, is_disputed), n in self.tally.items():
            events[i] += n
            disputed[i] += n if is_disputed else 0
        return [(label, events[i], disputed[i]) for i, (label, _) in enumerate(self.months)]


def monthly(session: Session, case: Case, f: query.TimelineFilter, *, labels: bool = False) -> Monthly:
    """The filter's events per local month of each event's start, from its first event's month to its last's
    (fetched with their exhibit labels if `labels`). 422 past MAX_MONTHS."""
    first = query.fetch(session, case.id, replace(f, order="asc"), after=None, limit=1, labels=labels)
    last = query.fetch(session, case.id, replace(f, order="desc"), after=None, limit=1, labels=labels)
    tally: Counter[tuple[int, str, bool]] = Counter()
    if not first:
        return Monthly([], tally, first, last)
    at = (columns.LABELLED_ROW if labels else columns.EVENT_ROW).occurred_at
    months = dates.month_starts(dates.stored_as_utc(first[0][at]), dates.stored_as_utc(last[0][at]), case.timezone)
    if len(months) > MAX_MONTHS:
        raise UnprocessableEntity(
            f"these events span {len(months)} months; narrow them with start and end to at most {MAX_MONTHS}"
        )
    bounds = [start for _, start in months]
    if month_counts.countable(f):
        for i, counts in enumerate(month_counts.per_bucket(session, case.id, f, bounds)):
            tally.update({(i, kind, disputed): n for (kind, disputed), n in counts.items()})
    else:
        tally.update(_scanned(session, case, f, bounds, body_range(f)))
    for extra in [straddling_range(p) for p in PRECISIONS] if f.start else []:
        tally.update(_scanned(session, case, f, bounds, extra))
    return Monthly(months, tally, first, last)


def summary(session: Session, case: Case, f: query.TimelineFilter, bundle: CitedBundle | None) -> dict:
    """Totals, per kind and per local month of each event's start, with the first and last event in time, their
    Bates cites from `bundle` (named as `cited_bundle`)."""
    counted = monthly(session, case, f, labels=True)
    result = {"total": 0, "disputed": 0, "by_kind": {}, "by_month": [], "first": None, "last": None}
    result["cited_bundle"] = bundle.public() if bundle else None
    if not counted.first:
        return result
    result["first"], result["last"] = query.shape(session, case, counted.first + counted.last, bundle)
    by_kind: Counter[str] = Counter()
    for (_, kind, _), n in counted.tally.items():
        by_kind[kind] += n
    result["disputed"] = sum(n for (_, _, is_disputed), n in counted.tally.items() if is_disputed)
    result["total"] = sum(by_kind.values())
    result["by_kind"] = dict(sorted(by_kind.items()))
    result["by_month"] = [{"month": label, "count": n} for label, n, _ in counted.per_month()]
    return result


def _scanned(session: Session, case: Case, f: query.TimelineFilter, bounds: list, extra: list) -> Counter:
    """Events of the filter matching the `extra` conditions by (month index, kind, disputed), counted from the
    events themselves: the straddling events (few), and the body of a filter the month counts cannot count."""
    rows = (
        select(
            _bucket(E.occurred_at, bounds, 0, len(bounds)).label("month"),
            col(E.kind).label("kind"),
            col(E.disputed).label("disputed"),
        )
        .where(*filter_conditions(f), *extra)
        .subquery()
    )
    grouped = select(rows.c.month, rows.c.kind, rows.c.disputed, func.count()).group_by(
        rows.c.month, rows.c.kind, rows.c.disputed
    )
    found: Counter[tuple[int, str, bool]] = Counter()
    for month, kind, is_disputed, n in session.execute(grouped, bind_values(case.id, f)).all():
        found[(int(month), kind, bool(is_disputed))] += n
    return found
