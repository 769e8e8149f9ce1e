"""Timeline events: a case's chronology, each fact tied to the exhibit that proves it."""

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.common import UTCDateTime, created_at_field, id_field, utcnow
from models.inputs import EVENT_TEXT_CHARS, TAGS_MAX, EventText, EventTitle, PageNumber, Tag, WrittenDate


class EventKind(StrEnum):
    order_placed = "order_placed"
    insert_card_received = "insert_card_received"
    review_posted = "review_posted"
    refund_issued = "refund_issued"
    message_sent = "message_sent"
    listing_changed = "listing_changed"
    enforcement_action = "enforcement_action"
    filing = "filing"
    other = "other"


class Precision(StrEnum):
    """How much of occurred_at is known: "March 2021" is a month, not March 1st at midnight."""

    year = "year"
    month = "month"
    day = "day"
    minute = "minute"
    second = "second"

    @property
    def rank(self) -> int:
        return ("year", "month", "day", "minute", "second").index(self.value)


class EventSource(StrEnum):
    derived = "derived"  # made from an exhibit's evidence and kept in step with it
    manual = "manual"
    imported = "imported"


MAX_TEXT = EVENT_TEXT_CHARS  # characters, for a title or description; an import refuses longer fields
MAX_TAGS = TAGS_MAX


class TimelineEvent(SQLModel, table=True):
    __tablename__ = "timeline_events"
    __table_args__ = (
        # The page query walks this index: case, then time order with id as the tie-breaker.
        Index("ix_timeline_events_case_occurred", "case_id", "occurred_at", "id"),
        # Finds events that began before a range but whose fuzzy span reaches into it, one precision at a time;
        # the end of the span is in the index, so one that ends before the range is passed over without its row.
        Index("ix_timeline_events_case_precision", "case_id", "precision", "occurred_at", "occurred_until"),
        # A kind filter, or a disputed one, walks its own index in time order: a rare kind or the few disputed
        # events are found without reading the events between them.
        Index("ix_timeline_events_case_kind", "case_id", "kind", "occurred_at", "id"),
        Index("ix_timeline_events_case_disputed", "case_id", "disputed", "occurred_at", "id"),
        UniqueConstraint("exhibit_id"),
    )

    id: uuid.UUID = id_field()
    case_id: uuid.UUID = Field(foreign_key="cases.id", ondelete="CASCADE")
    # Start of the span the precision allows (local midnight of the day, the 1st of the month...), in UTC.
    occurred_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    # Exclusive end of that span, so "overlaps a range" is two plain comparisons.
    occurred_until: datetime = Field(sa_type=UTCDateTime, nullable=False)
    precision: Precision = Field(sa_type=String(10))
    title: str = Field(sa_type=Text)
    description: str | None = Field(default=None, sa_type=Text)
    kind: EventKind = Field(sa_type=String(40))
    evidence_id: uuid.UUID | None = Field(default=None, foreign_key="evidence_items.id")
    page: int | None = None
    # Set only on derived events: the exhibit they were made from, at most one event each.
    exhibit_id: uuid.UUID | None = Field(default=None, foreign_key="exhibits.id", ondelete="CASCADE")
    tags: list[str] = Field(default_factory=list, sa_type=JSON)
    disputed: bool = False
    source: EventSource = Field(sa_type=String(20))
    created_by: uuid.UUID = Field(foreign_key="users.id")
    created_at: datetime = created_at_field()
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class TimelineEventTag(SQLModel, table=True):
    """One row per tag of an event, so a tag filter walks (case, tag, time) in order instead of reading every
    event's tag list. Written by the database itself: triggers on timeline_events (migration 0009) keep it in
    step with every insert, update and delete, whichever code path or bulk load made them.

    tag_key is the tag with ASCII letters lower-cased, as the filter matches it on both databases."""

    __tablename__ = "timeline_event_tags"
    __table_args__ = (Index("ix_timeline_event_tags_case_tag", "case_id", "tag_key", "occurred_at", "event_id"),)

    event_id: uuid.UUID = Field(primary_key=True)
    tag_key: str = Field(primary_key=True, sa_type=Text)
    case_id: uuid.UUID = Field(foreign_key="cases.id", ondelete="CASCADE")
    occurred_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class TimelineMonthCount(SQLModel, table=True):
    """How many of a case's events begin in each UTC month, by kind and disputed: slot "all" for the whole month,
    and one slot for each hour at its edges ("+00" to "+13", the hours after it starts; "-01" to "-12", those
    before it ends). Written by the database itself: triggers on timeline_events (migration 0013) keep it in step
    with every insert, update and delete, as they do timeline_event_tags.

    A month of the case's timezone starts within 14 hours of a UTC month (offsets run from -12:00 to +14:00), so
    the chronology's counts per local month (api/services/timeline/month_counts.py) are sums of these rows, not a
    count of a million events on every view."""

    __tablename__ = "timeline_month_counts"

    case_id: uuid.UUID = Field(foreign_key="cases.id", ondelete="CASCADE", primary_key=True)
    slot: str = Field(primary_key=True, sa_type=String(3))
    month: str = Field(primary_key=True, sa_type=String(7))  # YYYY-MM, in UTC
    kind: str = Field(primary_key=True, sa_type=String(40))
    disputed: bool = Field(primary_key=True)
    events: int


class EventCreate(SQLModel):
    occurred_at: WrittenDate = Field(
        description="ISO 8601: 2021, 2021-03, 2021-03-04, 2021-03-04T17:30 or with seconds and offset. "
        "Without an offset, read in the case timezone.",
    )
    precision: Precision | None = Field(default=None, description="Defaults to what occurred_at spells out.")
    title: EventTitle
    description: EventText | None = None
    kind: EventKind = EventKind.other
    evidence_id: uuid.UUID | None = None
    page: PageNumber | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    disputed: bool = False


class EventUpdate(SQLModel):
    """Fields to change. A derived event only takes `disputed`; the rest follows its evidence."""

    occurred_at: WrittenDate | None = None
    precision: Precision | None = None
    title: EventTitle | None = None
    description: EventText | None = None
    kind: EventKind | None = None
    evidence_id: uuid.UUID | None = None
    page: PageNumber | None = None
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)
    disputed: bool | None = None


# Read schemas are plain pydantic models: FastAPI validates every item of a 1,000-event page, and SQLModel's
# per-instance hooks cost more than the query that fetched them.
class Citation(BaseModel):
    exhibit_label: str | None = PydanticField(description="The evidence's exhibit label in this case, if it is one.")
    evidence_id: uuid.UUID
    page: int | None
    bates: str | None = PydanticField(
        description="Bates number (or range) of the cited page in the cited bundle; null when that bundle does not "
        "hold the exhibit, or the case has no done bundle."
    )


class TimelineEventPublic(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    occurred_at: datetime = PydanticField(description="Start of the event's span, in UTC.")
    occurred_until: datetime = PydanticField(description="Exclusive end of the span the precision allows, in UTC.")
    occurred_at_local: str = PydanticField(description="occurred_at in the case timezone, ISO 8601 with its offset.")
    precision: Precision
    date_display: str = PydanticField(description='The date as far as it is known, e.g. "March 2021".')
    title: str
    description: str | None
    kind: EventKind
    source: EventSource
    tags: list[str]
    disputed: bool
    evidence_id: uuid.UUID | None
    page: int | None
    citation: Citation | None
    created_by: uuid.UUID
    created_at: datetime
    updated_at: datetime


class CitedBundlePublic(BaseModel):
    """The one bundle whose Bates numbers a chronology cites."""

    id: uuid.UUID
    title: str
    sha256: str = PydanticField(description="The bundle's SHA-256 (of its volumes' SHA-256s, in order, if several).")
    bates_first: str
    bates_last: str
    filed: bool = PydanticField(description="Whether it is the bundle the case has marked as filed.")


CITED_BUNDLE = (
    "The bundle every Bates cite here comes from: bundle_id if given, else the case's filed bundle, else its newest "
    "done one; null while the case has no done bundle."
)


class TimelinePage(BaseModel):
    items: list[TimelineEventPublic]
    next_cursor: str | None = None
    cited_bundle: CitedBundlePublic | None = PydanticField(default=None, description=CITED_BUNDLE)


class MonthCount(BaseModel):
    month: str = PydanticField(description="YYYY-MM in the case timezone.")
    count: int


class TimelineSummary(BaseModel):
    total: int
    disputed: int
    by_kind: dict[str, int]
    by_month: list[MonthCount] = PydanticField(description="Events per month of their start, gaps included.")
    first: TimelineEventPublic | None
    last: TimelineEventPublic | None
    cited_bundle: CitedBundlePublic | None = PydanticField(default=None, description=CITED_BUNDLE)


class ImportResult(BaseModel):
    imported: int
    format: str
