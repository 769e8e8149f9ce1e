"""A chronology at a glance: counts per kind and per month (for a chart), and its first and last events."""

from collections import Counter
from dataclasses import replace

from sqlalchemy import case as sql_case
from sqlalchemy import func, literal, select
from sqlmodel import Session, col

from api import dates
from api.errors import UnprocessableEntity
from api.services.timeline import columns, query
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


def summary(session: Session, case: Case, f: query.TimelineFilter, bundle: CitedBundle | None) -> dict:
    """Totals, per kind and per local month of each event's start, with the first and last event in time, their
    Bates cites from `bundle` (named as `cited_bundle`)."""
    asc, desc = replace(f, order="asc"), replace(f, order="desc")
    first = query.fetch(session, case.id, asc, after=None, limit=1, labels=True)
    last = query.fetch(session, case.id, desc, after=None, limit=1, labels=True)
    result = {"total": 0, "disputed": 0, "by_kind": {}, "by_month": [], "first": None, "last": None}
    result["cited_bundle"] = bundle.public() if bundle else None
    if not first:
        return result
    result["first"], result["last"] = query.shape(session, case, first + last, bundle)
    at = columns.LABELLED_ROW.occurred_at
    months = dates.month_starts(dates.stored_as_utc(first[0][at]), dates.stored_as_utc(last[0][at]), case.timezone)
    if len(months) > MAX_MONTHS:
        raise UnprocessableEntity(
            f"these events span {len(months)} months; narrow them with start and end to at most {MAX_MONTHS}"
        )
    bounds = [start for _, start in months]
    by_kind: Counter[str] = Counter()
    by_month: Counter[int] = Counter()
    disputed = 0
    groups = [body_range(f)] + ([straddling_range(p) for p in PRECISIONS] if f.start else [])
    for extra in groups:
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
        for month, kind, is_disputed, n in session.execute(grouped, bind_values(case.id, f)).all():
            by_kind[kind] += n
            by_month[int(month)] += n
            disputed += n if is_disputed else 0
    result["total"] = sum(by_kind.values())
    result["disputed"] = disputed
    result["by_kind"] = dict(sorted(by_kind.items()))
    result["by_month"] = [{"month": label, "count": by_month[i]} for i, (label, _) in enumerate(months)]
    return result
