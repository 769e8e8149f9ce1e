"""What an admin purge reports: the originals it removed, and the items a legal hold kept."""

import uuid
from datetime import datetime

from sqlmodel import SQLModel


class PurgedItem(SQLModel):
    evidence_id: uuid.UUID
    case_id: uuid.UUID
    sha256: str
    size_bytes: int
    deleted_at: datetime
    deleted_reason: str | None
    blob_removed: bool  # False when a live item or a bundle volume still uses the same bytes


class SkippedItem(SQLModel):
    evidence_id: uuid.UUID
    case_id: uuid.UUID
    sha256: str
    why: str
    hold_case_id: uuid.UUID
    hold_reason: str


class PurgeReport(SQLModel):
    dry_run: bool
    purged: list[PurgedItem] = []
    skipped: list[SkippedItem] = []
    blobs_removed: list[str] = []  # hashes; also left-overs of an earlier run that stopped before removing them
    bytes_freed: int = 0
