"""What an integrity check reports over the API, and the background runs of that check."""

import uuid
from datetime import datetime

from pydantic import Field as PydanticField
from sqlalchemy import JSON, String, Text
from sqlmodel import Field, SQLModel

from models.common import SHA256_HEX_PATTERN, UTCDateTime, created_at_field, id_field
from models.inputs import ANCHORS_MAX, Seq
from models.job import FAILED, QUEUED, RUNNING, JobStatus


class AuditAnchor(SQLModel):
    """An audit event's place and hash, as verify and the custody report print them ("SEQ:SHA256")."""

    seq: Seq
    hash: str = PydanticField(
        pattern=SHA256_HEX_PATTERN, max_length=64, description="The event's SHA-256, lowercase hex."
    )


class VerifyRequest(SQLModel):
    anchors: list[AuditAnchor] = PydanticField(
        default_factory=list,
        max_length=ANCHORS_MAX,
        description="Events and hashes kept from earlier runs or reports: each must still be in the chain.",
    )


class VerifyFinding(SQLModel):
    problem: str  # missing | corrupt | orphan | broken | mismatch (a row disagrees with the audit trail)
    refs: list[str]
    sha256: str | None
    detail: str
    path: str | None


class VerifyResult(SQLModel):
    ok: bool
    checks: list[str]
    findings: list[VerifyFinding]
    originals: int
    evidence_rows: int
    volumes: int
    files_on_disk: int
    bytes_hashed: int
    audit_events: int
    anchors_checked: int
    rows_compared: int = PydanticField(0, description="Evidence rows compared with the audit trail.")
    exhibits: int = PydanticField(0, description="Exhibits compared with the links the audit trail records.")
    rows_not_covered: int = PydanticField(
        0, description="Rows of cases imported before imports recorded their rows: not compared."
    )
    anchor: AuditAnchor | None = PydanticField(
        description="The newest audit event and its hash, to keep outside this system and pass back later; "
        "null when the chain is broken."
    )


class VerifyRunStatus(JobStatus):
    queued = QUEUED
    running = RUNNING
    done = "done"
    failed = FAILED


class VerifyRun(SQLModel, table=True):
    """A verify queued over HTTP and run by the server in the background, for stores too big to re-hash within
    one request. Keeps what POST /admin/verify would have answered, so the outcome outlives the connection."""

    __tablename__ = "verify_runs"

    id: uuid.UUID = id_field()
    status: VerifyRunStatus = Field(default=VerifyRunStatus.queued, sa_type=String(20))
    requested_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    requested_at: datetime = created_at_field()
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # "SEQ:SHA256", as verify prints them and audit.Anchor.parse reads them.
    anchors: list[str] = Field(default_factory=list, sa_type=JSON)
    # A VerifyResult, once the run is done.
    result: dict | None = Field(default=None, sa_type=JSON)
    error: str | None = Field(default=None, sa_type=Text)


class VerifyRunPublic(SQLModel):
    id: uuid.UUID
    status: VerifyRunStatus
    requested_by_email: str | None
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result: VerifyResult | None = PydanticField(description="What POST /admin/verify would answer; set once done.")
    error: str | None = PydanticField(description="Why the run failed; set once failed.")
