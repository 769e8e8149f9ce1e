"""The audit trail: one hash-chained row per action, and the head of the chain.

Each event's `hash` is SHA-256 over the previous event's hash and a canonical JSON of the event itself
(api/services/audit.canonical), so an edited, deleted or reordered row breaks every link after it. The head
row holds the newest seq and hash: appends lock it, so concurrent requests queue instead of forking the chain,
and cutting rows off the end is noticed because the head no longer matches the last row.
"""

import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column, Index, String, Text
from sqlmodel import Field, SQLModel

from models.common import UTCDateTime

GENESIS_HASH = "0" * 64


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_case_seq", "case_id", "seq"),
        Index("ix_audit_evidence_seq", "evidence_id", "seq"),
        Index("ix_audit_object_seq", "object_id", "seq"),
        Index("ix_audit_action_at", "action", "at"),
        Index("ix_audit_email_at", "actor_email", "at"),
        Index("ix_audit_ip_at", "ip", "at"),
    )

    # Position in the chain, handed out from the head under its lock: 1, 2, 3... with no gaps.
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    id: uuid.UUID = Field(unique=True)
    at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    actor_id: uuid.UUID | None = None  # no foreign key: the trail outlives anything it mentions
    actor_email: str | None = Field(default=None, max_length=320)
    action: str = Field(sa_type=String(60))
    case_id: uuid.UUID | None = None
    evidence_id: uuid.UUID | None = None  # set on every event about one evidence item (its custody)
    object_type: str | None = Field(default=None, sa_type=String(40))
    object_id: str | None = Field(default=None, max_length=64)
    details: dict = Field(default_factory=dict, sa_type=JSON)
    ip: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, sa_type=Text)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = Field(default=0, sa_type=BigInteger)
    hash: str = Field(default=GENESIS_HASH, max_length=64)


class AuditEventPublic(SQLModel):
    seq: int
    id: uuid.UUID
    at: datetime
    actor_id: uuid.UUID | None
    actor_email: str | None
    action: str
    case_id: uuid.UUID | None
    evidence_id: uuid.UUID | None
    object_type: str | None
    object_id: str | None
    details: dict
    ip: str | None
    user_agent: str | None
    prev_hash: str
    hash: str
