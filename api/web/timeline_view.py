"""What the Timeline tab shows around the API's timeline services: its filter form read into the API's filter,
and the month chart's bars drawn from the summary's counts. Presentation only: which events match, and how many
a month holds, is the services' to say."""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Query
from sqlmodel import Session

from api import dates
from api.errors import UnprocessableEntity
from api.services.timeline import query as query_service
from api.services.timeline import summary as summary_service
from api.web.render import sentence
from models.case import Case
from models.timeline import EventKind

EVENTS_PER_PAGE = 50
KINDS = {kind.value: kind.value.replace("_", " ").capitalize() for kind in EventKind}
DISPUTED = {"": "Any", "yes": "Disputed only", "no": "Not disputed"}


@dataclass(frozen=True)
class Filters:
    """The filter form as written: From and To are dates in any of the fuzzy forms, both included."""

    start: str = ""
    to: str = ""
    kind: str = ""
    tag: str = ""
    disputed: str = ""

    @classmethod
    def of(cls, start: str, to: str, kind: str, tag: str, disputed: str) -> "Filters":
        return cls(start.strip(), to.strip(), kind.strip(), tag.strip(), disputed if disputed in DISPUTED else "")

    @classmethod
    def from_query(
        cls,
        start: Annotated[str, Query(alias="from", max_length=1000)] = "",
        to: Annotated[str, Query(max_length=1000)] = "",
        kind: Annotated[str, Query(max_length=1000)] = "",
        tag: Annotated[str, Query(max_length=1000)] = "",
        disputed: Annotated[str, Query(max_length=1000)] = "",
    ) -> "Filters":
        """The filters of a page's query string: a dependency, for the tab and its exports alike."""
        return cls.of(start, to, kind, tag, disputed)

    @property
    def active(self) -> bool:
        return any((self.start, self.to, self.kind, self.tag, self.disputed))

    def query(self, **changes: str) -> str:
        """The query string of these filters, with `changes` (e.g. from/to of one month, or a cursor)."""
        values = {"from": self.start, "to": self.to, "kind": self.kind, "tag": self.tag, "disputed": self.disputed}
        return urlencode({name: value for name, value in (values | changes).items() if value})


def read_filter(case: Case, filters: Filters) -> tuple[query_service.TimelineFilter | None, dict[str, str]]:
    """The API's filter for the form (To is included: it becomes the exclusive end after it), or the problems by
    field, in the words of the date parser and of the filter's own checks."""
    errors: dict[str, str] = {}
    end = None
    for name, text in (("from", filters.start), ("to", filters.to)):
        if not text:
            continue
        try:
            if name == "from":
                dates.parse_when(text, case.timezone)
            else:
                end = dates.following(text, case.timezone)
        except ValueError as exc:
            errors[name] = sentence(str(exc))
    if errors:
        return None, errors
    try:
        f = query_service.parse_filter(
            case,
            start=filters.start or None,
            end=end,
            kind=[filters.kind] if filters.kind else None,
            tag=[filters.tag] if filters.tag else None,
            disputed={"yes": True, "no": False}.get(filters.disputed),
        )
    except UnprocessableEntity as exc:
        message = str(exc.message)
        if message.startswith("end ("):  # the end the To date makes is not after From
            return None, {"to": "The To date is before the From date."}
        field = next((name for name in ("kind", "tag", "from", "to") if message.startswith(name)), "form")
        return None, {field: sentence(message)}
    return f, {}


@dataclass
class Bar:
    month: str  # YYYY-MM
    name: str  # March 2021
    events: int
    disputed: int
    selected: bool
    href: str
    x: int
    top: int  # of the whole bar
    height: int
    disputed_top: int
    disputed_height: int
    count_text: str
    month_text: str
    year_text: str


@dataclass
class Chart:
    bars: list[Bar]
    width: int = 0
    slot: int = 28  # each month's width
    total: int = 0
    disputed: int = 0
    bar_width: int = 22
    show_counts: bool = True
    problem: str | None = None


PLOT, TOP, HEIGHT = 110, 18, 166  # bar area, room above it for counts, the whole drawing (month and year below)
BASE = TOP + PLOT


def compact(n: int) -> str:
    """A count short enough to sit above a bar: 950, 1.2k, 27k, 1.1M."""
    if n < 1000:
        return str(n)
    if n < 10_000:
        return f"{n / 1000:.1f}".removesuffix(".0") + "k"
    if n < 1_000_000:
        return f"{n // 1000}k"
    return f"{n / 1_000_000:.1f}".removesuffix(".0") + "M"


def _height(n: int, most: int) -> int:
    return 0 if not n else max(2, round(n / most * PLOT))


def chart(session: Session, case: Case, f: query_service.TimelineFilter | None, filters: Filters) -> Chart:
    """Every month of the case's chronology (the filters do not narrow it: it is the map the list is read
    against), the months of the From-To range marked selected, each bar a link to the list of that month."""
    try:
        counted = summary_service.monthly(session, case, query_service.parse_filter(case))
    except UnprocessableEntity as exc:
        return Chart([], problem=sentence(str(exc.message)))
    months = counted.per_month()
    slot = 28 if len(months) <= 60 else 16 if len(months) <= 240 else 8
    most = max((n for _, n, _ in months), default=0) or 1
    low, high = (f.start, f.end) if f is not None else (None, None)
    starts = [start for _, start in counted.months]
    bars = []
    for i, (month, n, disputed) in enumerate(months):
        year, number = int(month[:4]), int(month[5:7])
        begins: datetime = starts[i]
        ends = starts[i + 1] if i + 1 < len(starts) else None
        selected = (low or high) is not None and (high is None or begins < high)
        selected = selected and (low is None or ends is None or ends > low)
        height, disputed_height = _height(n, most), _height(disputed, most)
        bars.append(
            Bar(
                month=month,
                name=f"{dates.MONTHS[number - 1]} {year}",
                events=n,
                disputed=disputed,
                selected=bool(selected),
                href=f"/cases/{case.id}/timeline?" + filters.query(**{"from": month, "to": month}),
                x=i * slot,
                top=BASE - height,
                height=height,
                disputed_top=BASE - disputed_height,
                disputed_height=min(disputed_height, height),
                count_text=compact(n) if n else "",
                month_text=dates.MONTHS[number - 1][:3] if slot >= 28 else "",
                year_text=str(year) if number == 1 or i == 0 else "",
            )
        )
    total = sum(n for _, n, _ in months)
    disputed = sum(d for _, _, d in months)
    return Chart(
        bars,
        width=max(len(bars) * slot, 1),
        slot=slot,
        total=total,
        disputed=disputed,
        bar_width=slot - (6 if slot >= 16 else 2),
        show_counts=slot >= 28,
    )
