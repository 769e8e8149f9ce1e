"""Productions and privilege: what goes to the other side in discovery, and what is kept back.

A production is a background job that writes a ZIP in the layout review platforms load (IMAGES/, NATIVES/, TEXT/,
DATA/PRODnnn.dat and .opt), every page stamped with its production Bates number and designation legend; it records
what was produced, when, to whom, with a manifest of every file's SHA-256. A privilege claim says an item is withheld
or redacted for privilege, with what the privilege log needs (FRCP 26(b)(5)(A)).
"""

import datetime as dt
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, StringConstraints, field_validator
from pydantic import Field as PydanticField
from sqlalchemy import JSON, BigInteger, Boolean, Date, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from models.common import UTCDateTime, created_at_field, id_field
from models.inputs import BATES_PREFIX_CHARS, BatesDigits, BatesNumber, BatesPrefix
from models.job import FAILED, QUEUED, RUNNING, JobStatus

MAX_ITEMS = 10_000


class ImageFormat(StrEnum):
    pdf = "pdf"  # one PDF per document
    tiff = "tiff"  # one single-page TIFF per page


class LoadEncoding(StrEnum):
    utf8 = "utf-8"  # with a BOM
    cp1252 = "windows-1252"


class ProductionStatus(JobStatus):
    queued = QUEUED
    running = RUNNING
    done = "done"
    failed = FAILED


class Production(SQLModel, table=True):
    __tablename__ = "productions"
    __table_args__ = (Index("ix_productions_case_created", "case_id", "created_at", "id"),)

    id: uuid.UUID = id_field()
    case_id: uuid.UUID = Field(foreign_key="cases.id", ondelete="CASCADE")
    number: int = Field(sa_type=Integer)  # 1, 2, ... within the case: PROD001
    name: str = Field(sa_type=Text)
    recipient: str | None = Field(default=None, sa_type=Text)
    prefix: str = Field(max_length=BATES_PREFIX_CHARS)
    digits: int = Field(sa_type=Integer)
    bates_first_number: int = Field(sa_type=BigInteger)
    bates_last_number: int | None = Field(default=None, sa_type=BigInteger)
    items: list[str] = Field(default_factory=list, sa_type=JSON)  # evidence ids, in production order
    redacted: bool = Field(default=True, sa_type=Boolean)
    natives: list[str] = Field(default_factory=list, sa_type=JSON)
    text: bool = Field(default=True, sa_type=Boolean)
    image_format: ImageFormat = Field(default=ImageFormat.pdf, sa_type=String(10))
    encoding: LoadEncoding = Field(default=LoadEncoding.utf8, sa_type=String(20))
    legend: str | None = Field(default=None, sa_type=Text)  # a legend on every page, on top of each designation's
    status: ProductionStatus = Field(default=ProductionStatus.queued, sa_type=String(20))
    # Per document: evidence id, the item produced (its redacted copy or itself), Bates range, pages, withheld...
    documents: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    manifest: dict[str, str] = Field(default_factory=dict, sa_type=JSON)  # path in the ZIP -> SHA-256
    zip_sha256: str | None = Field(default=None, sa_type=String(64))
    zip_size: int | None = Field(default=None, sa_type=BigInteger)
    check: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    error: str | None = Field(default=None, sa_type=Text)
    created_by: uuid.UUID = Field(foreign_key="users.id")
    created_at: datetime = created_at_field()
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Privilege(StrEnum):
    attorney_client = "attorney-client"
    work_product = "work product"
    common_interest = "common interest"
    other = "other"


class Treatment(StrEnum):
    withheld = "withheld"  # the whole item is kept back: a slip sheet stands in its place in a production
    redacted = "redacted"  # produced with its privileged parts redacted


class PrivilegeClaim(SQLModel, table=True):
    __tablename__ = "privilege_claims"

    evidence_id: uuid.UUID = Field(foreign_key="evidence_items.id", primary_key=True, ondelete="CASCADE")
    case_id: uuid.UUID = Field(foreign_key="cases.id", ondelete="CASCADE", index=True)
    treatment: Treatment = Field(sa_type=String(20))
    privilege: Privilege = Field(sa_type=String(40))
    basis: str = Field(sa_type=Text)
    dated: dt.date | None = Field(default=None, sa_type=Date)
    author: str | None = Field(default=None, sa_type=Text)
    recipients: list[str] = Field(default_factory=list, sa_type=JSON)
    subject: str = Field(sa_type=Text)  # what it is about, without revealing what is privileged
    updated_by: uuid.UUID = Field(foreign_key="users.id")
    updated_at: datetime = created_at_field()


# API forms ---------------------------------------------------------------------------------------------------------

Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Text2k = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
NativeKind = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class ProductionCreate(BaseModel):
    name: Line
    prefix: BatesPrefix
    start: BatesNumber | None = PydanticField(default=None, description="Default: continue the prefix")
    digits: BatesDigits = 6
    items: list[uuid.UUID] = PydanticField(default_factory=list, max_length=MAX_ITEMS)
    redacted: bool = True
    natives: list[NativeKind] = PydanticField(default_factory=list, max_length=50)
    text: bool = True
    image_format: ImageFormat = ImageFormat.pdf
    encoding: LoadEncoding = LoadEncoding.utf8
    recipient: Line | None = None
    legend: Line | None = None

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        from models.bundle import BATES_PREFIX_RE

        if not BATES_PREFIX_RE.fullmatch(value):
            raise ValueError("prefix must use only A-Z, 0-9, '_' and '-', and must not end in a digit")
        return value


class PrivilegeIn(BaseModel):
    treatment: Treatment
    privilege: Privilege
    basis: Text2k
    date: dt.date | None = None
    author: Line | None = None
    recipients: list[Line] = PydanticField(default_factory=list, max_length=100)
    subject: Text2k
