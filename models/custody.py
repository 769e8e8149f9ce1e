"""The chain-of-custody report of one evidence item, as the API returns it."""

import uuid
from datetime import datetime
from typing import Literal

from sqlmodel import Field, SQLModel

from models.audit import AuditEventPublic


class CustodyCase(SQLModel):
    id: uuid.UUID
    title: str
    docket_number: str | None
    court: str | None
    timezone: str


class CustodyItem(SQLModel):
    id: uuid.UUID
    case_id: uuid.UUID = Field(description="The case it was uploaded into.")
    title: str
    kind: str
    sha256: str
    size_bytes: int
    media_type: str
    original_filename: str
    page_count: int | None
    custodian: str | None = Field(description="Whose records or device the item came from, as recorded.")
    source_url: str | None
    created_at: datetime
    deleted_at: datetime | None
    deleted_reason: str | None
    purged_at: datetime | None


class CustodyExhibit(SQLModel):
    case_id: uuid.UUID
    exhibit_id: uuid.UUID
    label: str


class Acquisition(SQLModel):
    source: Literal["audit", "record"] = Field(
        description="'audit': read from the upload's audit event; 'record': the item predates the audit trail, "
        "so this is the evidence row itself."
    )
    event_seq: int | None
    at: datetime
    uploader_id: uuid.UUID | None
    uploader_email: str | None
    uploader_name: str | None
    ip: str | None
    user_agent: str | None
    original_filename: str
    size_bytes: int | None
    sha256: str | None
    media_type: str | None
    matches_record: bool = Field(description="The hash and size recorded at upload equal the item's own.")


class CustodyEvent(AuditEventPublic):
    """An audit event as the custody report shows it: in plain words, with its hash checked."""

    action_label: str = Field(description="The action in plain words.")
    summary: str = Field(description="The details in one line, e.g. \"title: 'A' → 'B'\".")
    actor_name: str | None
    hash_ok: bool = Field(description="The event's stored hash recomputes from its content and prev_hash.")


class CustodyBundle(SQLModel):
    bundle_id: uuid.UUID
    case_id: uuid.UUID
    title: str
    status: str
    finished_at: datetime | None
    label: str
    bates_first: str
    bates_last: str
    volume: int
    volume_sha256: str | None
    bundle_sha256: str | None
    evidence_sha256: str
    sha256_matches: bool = Field(description="The bundle was built from bytes with this item's SHA-256.")


class Verification(SQLModel):
    seq: int
    at: datetime
    actor_email: str | None
    run_ok: bool | None
    covered: bool = Field(description="The item existed when the check ran.")
    ok_for_this_item: bool | None = Field(
        description="Its hash was neither corrupt nor missing in that run; null if the run did not cover it."
    )


class HashCheck(SQLModel):
    at: datetime
    expected_sha256: str
    actual_sha256: str | None
    status: Literal["match", "mismatch", "missing"]
    match: bool


class ChainStatus(SQLModel):
    events: int
    hashes_ok: bool = Field(description="Every listed event's hash recomputes (the whole chain is verify's to walk).")
    anchor: str = Field(
        description="SEQ:SHA256 of the audit trail's newest event as the report was made. Kept with the report, "
        "it lets a later verify (--anchor, or anchors in POST /admin/verify) prove no event up to it has changed."
    )


class CustodyReport(SQLModel):
    generated_at: datetime
    generated_by: str = Field(description="The e-mail of the user the report was produced for.")
    case: CustodyCase = Field(description="The case the report is captioned in.")
    cases: list[CustodyCase] = Field(description="The cases whose records the report covers: yours, of the item's.")
    item: CustodyItem
    exhibits: list[CustodyExhibit] = Field(description="Its exhibits in the covered cases.")
    acquisition: Acquisition | None
    events: list[CustodyEvent]
    bundles: list[CustodyBundle]
    verification: Verification | None
    current_check: HashCheck
    chain: ChainStatus
