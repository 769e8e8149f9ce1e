"""What an integrity check reports over the API."""

from sqlmodel import SQLModel


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
