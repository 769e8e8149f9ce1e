"""Audit history that came with an imported case: the source instance's events, kept verbatim.

They cannot join this instance's chain (their seq and prev_hash belong to the source's chain, and re-chaining
them would change what they say), so they sit here beside it. Each row still carries its source hash, which an
import checks against the event's content before it is stored.
"""

import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.common import created_at_field, id_field


class ImportedAuditEvent(SQLModel, table=True):
    __tablename__ = "imported_audit_events"
    __table_args__ = (UniqueConstraint("case_id", "ordinal"), UniqueConstraint("case_id", "source_event_id"))

    id: uuid.UUID = id_field()
    case_id: uuid.UUID  # no foreign key, like the audit trail: history outlives what it mentions
    # Order within the case's imported history: earlier imports' history first, then each source's chain order.
    ordinal: int = Field(sa_type=BigInteger)
    source_seq: int = Field(sa_type=BigInteger)
    source_event_id: uuid.UUID
    source_prev_hash: str = Field(max_length=64)
    source_hash: str = Field(max_length=64)
    event: dict = Field(sa_type=JSON)  # every column of the source event, exactly as exported
    import_manifest_sha256: str = Field(max_length=64)  # the manifest it arrived in (named by case.import)
    imported_at: datetime = created_at_field()
