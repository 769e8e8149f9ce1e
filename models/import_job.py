"""Event imports too large to answer within one request: the staged file, queued and run in the background, with
its progress and outcome kept on a row for anyone with access to the case to follow."""

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlalchemy import JSON, BigInteger, Index, String, Text
from sqlmodel import Field, SQLModel

from models.common import UTCDateTime, created_at_field, id_field
from models.job import FAILED, QUEUED, RUNNING, JobStatus


class ImportJobStatus(JobStatus):
    queued = QUEUED
    running = RUNNING
    succeeded = "succeeded"
    failed = FAILED


class ImportPhase(StrEnum):
    queued = "queued"
    reading = "reading"  # rows parsed and checked, nothing stored yet
    storing = "storing"  # every row was valid: stored in one transaction
    done = "done"


class ImportJob(SQLModel, table=True):
    __tablename__ = "import_jobs"
    __table_args__ = (Index("ix_import_jobs_case_created", "case_id", "created_at", "id"),)

    id: uuid.UUID = id_field()
    case_id: uuid.UUID = Field(foreign_key="cases.id", ondelete="CASCADE")
    status: ImportJobStatus = Field(default=ImportJobStatus.queued, sa_type=String(20))
    format: str = Field(sa_type=String(10))
    size_bytes: int = Field(sa_type=BigInteger)
    sha256: str = Field(sa_type=String(64))
    phase: ImportPhase = Field(default=ImportPhase.queued, sa_type=String(20))
    rows_read: int = Field(default=0, sa_type=BigInteger)
    rows_total: int | None = Field(default=None, sa_type=BigInteger)
    bytes_read: int = Field(default=0, sa_type=BigInteger)
    imported: int | None = Field(default=None, sa_type=BigInteger)
    # Problems by row and column, as a 422 from the synchronous import lists them.
    errors: list[dict] = Field(default_factory=list, sa_type=JSON)
    message: str | None = Field(default=None, sa_type=Text)
    created_by: uuid.UUID = Field(foreign_key="users.id")
    created_at: datetime = created_at_field()
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ImportProgress(BaseModel):
    phase: ImportPhase
    rows_read: int = PydanticField(description="Data rows read and checked so far.")
    rows_total: int | None = PydanticField(description="Data rows in the file, once all of it has been read.")
    bytes_read: int
    bytes_total: int


class ImportRowError(BaseModel):
    row: int
    column: str | None
    message: str


class ImportJobPublic(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    status: ImportJobStatus
    format: str
    size_bytes: int
    sha256: str = PydanticField(description="SHA-256 of the file as it was received.")
    progress: ImportProgress
    imported: int | None = PydanticField(description="Events stored, once the import succeeded.")
    errors: list[ImportRowError] = PydanticField(
        description="Rows with problems, when it failed on them (and then none was stored)."
    )
    message: str | None = PydanticField(description="Why it failed, in a sentence; null otherwise.")
    created_by: uuid.UUID
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
