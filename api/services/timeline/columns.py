"""The columns a timeline query selects and where each lands in a row: ids and times selected as text, read back
by name (row[EVENT_ROW.occurred_at]) through positions derived from the column lists."""

from typing import Any

from sqlalchemy import Label, Text, cast
from sqlmodel import col

from api.services.timeline.sql import stored_utc_text, uuid_any_text
from models.exhibit import Exhibit
from models.timeline import TimelineEvent

E = TimelineEvent
# Rows are the driver's own tuples, never converted column by column: that cost five times the query on a
# page of 1,000 or an export. Ids are selected as text (uuid_any_text: SQLite's 32 hex digits, PostgreSQL's
# canonical form; as_uuid_text reads both), times as UTC text in SQLite's stored form (stored_utc_text), tags
# as their JSON text, on both databases. Mapped attributes (SQLModel types them as their values) and a label.
EVENT_COLUMNS: tuple[Any, ...] = (
    E.id,
    E.case_id,
    E.occurred_at,
    E.occurred_until,
    E.precision,
    E.title,
    E.description,
    E.kind,
    E.source,
    cast(E.tags, Text).label("tags"),
    E.disputed,
    E.evidence_id,
    E.page,
    E.created_by,
    E.created_at,
    E.updated_at,
)
_BY_NAME = {c.key: c for c in EVENT_COLUMNS}
# The CSV export unpacks its rows in this order (timeline.csv.csv_block).
EXPORT_FIELDS = (
    "id",
    "occurred_at",
    "occurred_until",
    "precision",
    "title",
    "description",
    "kind",
    "source",
    "tags",
    "disputed",
    "evidence_id",
    "page",
)
EXPORT_COLUMNS = tuple(_BY_NAME[name] for name in EXPORT_FIELDS)
# What fetch(labels=True) adds after the EVENT_COLUMNS: the evidence's exhibit in the case.
LABEL_COLUMNS: tuple[Label[str], ...] = (
    uuid_any_text(Exhibit.id).label("exhibit_id"),
    col(Exhibit.label).label("exhibit_label"),
)
COLUMNS = {"event": EVENT_COLUMNS, "export": EXPORT_COLUMNS}
_IDS = {"id", "case_id", "evidence_id", "created_by", "exhibit_id"}
_TIMES = {"occurred_at", "occurred_until", "created_at", "updated_at"}


class Positions:
    """Where each field of a driver row sits, by the names its columns were selected under: code reads a row as
    row[EVENT_ROW.occurred_at], never row[2], and stays right when a column list changes. The rows themselves
    stay the driver's tuples (see EVENT_COLUMNS)."""

    # The names a column list may select (each set only when selected): EVENT_COLUMNS, then LABEL_COLUMNS.
    id: int
    case_id: int
    occurred_at: int
    occurred_until: int
    precision: int
    title: int
    description: int
    kind: int
    source: int
    tags: int
    disputed: int
    evidence_id: int
    page: int
    created_by: int
    created_at: int
    updated_at: int
    exhibit_id: int
    exhibit_label: int

    def __init__(self, *columns):
        self.names = tuple(c.key for c in columns)
        for position, name in enumerate(self.names):
            setattr(self, name, position)


EVENT_ROW = Positions(*EVENT_COLUMNS)
LABELLED_ROW = Positions(*EVENT_COLUMNS, *LABEL_COLUMNS)  # fetch(labels=True), the rows shape() takes
EXPORT_ROW = Positions(*EXPORT_COLUMNS)
ROWS = {"event": EVENT_ROW, "export": EXPORT_ROW}


def as_selected(columns) -> list:
    """The columns as selected: ids and times as text. Ordering and joins still use the columns themselves."""
    return [
        uuid_any_text(c).label(c.key) if c.key in _IDS else stored_utc_text(c).label(c.key) if c.key in _TIMES else c
        for c in columns
    ]


def as_uuid_text(value) -> str | None:
    """Canonical text of an id: from 32 hex digits, the canonical text itself or a UUID object."""
    if value is None:
        return None
    if isinstance(value, str) and len(value) == 32:
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return str(value)
