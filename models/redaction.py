"""Redactions: what must not leave the firm, marked on an item's pages, and the redacted copies made of them.

A redaction is a box on one page of an item (fractions of the page from its top-left; a CSV's or an e-mail's pages
are those of its rendering), suggested by a detector (an SSN, a card number, a case's protective-order term...) or
drawn by hand, and accepted or rejected by a person. Applying an item's accepted redactions is a background job
(a redaction set) that makes a new, derived evidence item with the boxes burned in; the original never changes.
"""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, StringConstraints, field_validator, model_validator
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Float, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from models.common import UTCDateTime, created_at_field, id_field
from models.job import FAILED, QUEUED, RUNNING, JobStatus

MAX_TERMS = 500
MAX_PATTERNS = 100


class RedactionStatus(StrEnum):
    suggested = "suggested"
    accepted = "accepted"
    rejected = "rejected"


class RedactionOrigin(StrEnum):
    detected = "detected"  # a detector's suggestion
    drawn = "drawn"  # a box drawn by a person, accepted as it is drawn


class RedactionTerms(SQLModel, table=True):
    """A case's own words and patterns to redact (a protective order's list), on top of the detectors."""

    __tablename__ = "redaction_terms"

    case_id: uuid.UUID = Field(foreign_key="cases.id", primary_key=True, ondelete="CASCADE")
    terms: list[str] = Field(default_factory=list, sa_type=JSON)
    patterns: list[str] = Field(default_factory=list, sa_type=JSON)
    updated_by: uuid.UUID = Field(foreign_key="users.id")
    updated_at: datetime = created_at_field()


class Redaction(SQLModel, table=True):
    __tablename__ = "redactions"
    __table_args__ = (Index("ix_redactions_evidence_page", "evidence_id", "page", "created_at"),)

    id: uuid.UUID = id_field()
    evidence_id: uuid.UUID = Field(foreign_key="evidence_items.id", ondelete="CASCADE")
    page: int = Field(sa_type=Integer)  # 1-based
    x0: float = Field(sa_type=Float)
    y0: float = Field(sa_type=Float)
    x1: float = Field(sa_type=Float)
    y1: float = Field(sa_type=Float)
    text: str | None = Field(default=None, sa_type=Text)  # what the box covers, where it was read
    # What the detector found, the part left showing included (an SSN whose last four digits stay): what the
    # release check looks for whole.
    found: str | None = Field(default=None, sa_type=Text)
    rule: str = Field(sa_type=String(40))  # "ssn", "card", ... "term", "pattern", "drawn"
    reason: str = Field(sa_type=Text)  # "FRCP 5.2(a)(1)"
    status: RedactionStatus = Field(default=RedactionStatus.suggested, sa_type=String(20))
    origin: RedactionOrigin = Field(sa_type=String(20))
    # The item's SHA-256 when the box was placed: a box is only ever burned into the bytes it was placed on.
    sha256: str = Field(sa_type=String(64))
    created_by: uuid.UUID = Field(foreign_key="users.id")
    created_at: datetime = created_at_field()
    decided_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def box(self) -> list[float]:
        return [self.x0, self.y0, self.x1, self.y1]


class RedactionSetStatus(JobStatus):
    queued = QUEUED
    running = RUNNING
    done = "done"
    failed = FAILED


class RedactionSet(SQLModel, table=True):
    """One application of an item's accepted redactions: the job, and the derived item it made."""

    __tablename__ = "redaction_sets"
    __table_args__ = (Index("ix_redaction_sets_evidence", "evidence_id", "created_at"),)

    id: uuid.UUID = id_field()
    case_id: uuid.UUID = Field(foreign_key="cases.id", ondelete="CASCADE")
    evidence_id: uuid.UUID = Field(foreign_key="evidence_items.id", ondelete="CASCADE")
    sha256: str = Field(sa_type=String(64))  # the original's, as it was applied to
    redaction_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    status: RedactionSetStatus = Field(default=RedactionSetStatus.queued, sa_type=String(20))
    derived_evidence_id: uuid.UUID | None = Field(default=None, foreign_key="evidence_items.id", ondelete="SET NULL")
    # The release check: pages and images read, strings looked for, and where one was found when it failed.
    check: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    error: str | None = Field(default=None, sa_type=Text)
    created_by: uuid.UUID = Field(foreign_key="users.id")
    created_at: datetime = created_at_field()
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


# API forms ---------------------------------------------------------------------------------------------------------

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Term = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Pattern = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class TermsIn(BaseModel):
    terms: list[Term] = PydanticField(default_factory=list, max_length=MAX_TERMS)
    patterns: list[Pattern] = PydanticField(default_factory=list, max_length=MAX_PATTERNS)


class Box(BaseModel):
    """[x0, y0, x1, y1], fractions of the page from its top-left corner."""

    box: list[float] = PydanticField(min_length=4, max_length=4)

    @field_validator("box")
    @classmethod
    def _on_page(cls, box: list[float]) -> list[float]:
        x0, y0, x1, y1 = box
        if not all(0.0 <= v <= 1.0 for v in box):
            raise ValueError("box values are fractions of the page, from 0 to 1: this box is off the page")
        if x1 <= x0 or y1 <= y0:
            raise ValueError("box is [x0, y0, x1, y1] with x0 < x1 and y0 < y1 (from the page's top-left)")
        return box


class DrawnRedaction(Box):
    page: int = PydanticField(ge=1, le=100_000)
    reason: Reason


class RedactionDecision(BaseModel):
    status: RedactionStatus
    reason: Reason | None = None

    @model_validator(mode="after")
    def _decided(self) -> "RedactionDecision":
        if self.status == RedactionStatus.suggested:
            raise ValueError("status is accepted or rejected")
        return self
