"""What an integrity check reports over the API."""

from pydantic import Field
from sqlmodel import SQLModel


class AuditAnchor(SQLModel):
    """An audit event's place and hash, as verify and the custody report print them ("SEQ:SHA256")."""

    seq: int = Field(ge=1)
    hash: str = Field(pattern="^[0-9a-f]{64}$", description="The event's SHA-256, lowercase hex.")


class VerifyRequest(SQLModel):
    anchors: list[AuditAnchor] = Field(
        default_factory=list,
        max_length=1000,
        description="Events and hashes kept from earlier runs or reports: each must still be in the chain.",
    )


class VerifyFinding(SQLModel):
    problem: str  # missing | corrupt | orphan | broken
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
    anchor: AuditAnchor | None = Field(
        description="The newest audit event and its hash, to keep outside this system and pass back later; "
        "null when the chain is broken."
    )
