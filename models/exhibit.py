"""Exhibits: the link between a case and an evidence item, with its permanent label."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.common import created_at_field, id_field
from models.evidence import EvidenceKind
from models.inputs import EXHIBIT_LABEL_CHARS, ExhibitLabel, Note, Position, Reason


class Designation(StrEnum):
    none = "none"
    confidential = "confidential"
    attorneys_eyes_only = "attorneys_eyes_only"


class Exhibit(SQLModel, table=True):
    __tablename__ = "exhibits"
    __table_args__ = (
        UniqueConstraint("case_id", "label"),
        UniqueConstraint("case_id", "evidence_id"),
        Index("ix_exhibits_case_position", "case_id", "position", "id"),
    )

    id: uuid.UUID = id_field()
    case_id: uuid.UUID = Field(foreign_key="cases.id", ondelete="CASCADE")
    evidence_id: uuid.UUID = Field(foreign_key="evidence_items.id", index=True)
    number: int = Field(description="The number the label was made from.")
    label: str = Field(max_length=EXHIBIT_LABEL_CHARS)
    position: int = Field(description="1-based place in the case's exhibit order.")
    designation: Designation = Field(default=Designation.none, sa_type=String(30))
    note: str | None = Field(default=None, sa_type=Text)
    created_by: uuid.UUID = Field(foreign_key="users.id")
    created_at: datetime = created_at_field()


class ExhibitCreate(SQLModel):
    evidence_id: uuid.UUID


class ExhibitUpdate(SQLModel):
    position: Position | None = None
    label: ExhibitLabel | None = None
    designation: Designation | None = None
    note: Note | None = None


class ExhibitRemoval(SQLModel):
    """Why an exhibit is taken out of its case, as the web app asks before it unlinks one: kept in the unlink's
    audit event, so the case's activity says who removed it and why."""

    reason: Reason


class ExhibitEvidence(SQLModel):
    """Enough of the evidence item to show an exhibit list without a second request."""

    title: str
    kind: EvidenceKind
    media_type: str
    sha256: str
    size_bytes: int
    original_filename: str
    occurred_at: datetime | None
    page_count: int | None


class ExhibitPublic(SQLModel):
    id: uuid.UUID
    case_id: uuid.UUID
    evidence_id: uuid.UUID
    label: str
    position: int
    designation: Designation
    note: str | None
    created_at: datetime
    evidence: ExhibitEvidence | None = None
