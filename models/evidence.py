"""Evidence items: an original file (by hash) and what the team knows about it."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import field_validator, model_validator
from sqlalchemy import JSON, BigInteger, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel
from sqlmodel._compat import SQLModelConfig

from models.common import UTCDateTime, created_at_field, id_field, is_sha256_hex, utcnow
from models.inputs import (
    FACT_KEYS_MAX,
    TAGS_MAX,
    Custodian,
    EvidenceTitle,
    FactsJson,
    FormRefused,
    Instant,
    Note,
    SourceUrl,
    Tag,
    TagsText,
    WrittenDate,
)
from models.text import TextStatus


class EvidenceKind(StrEnum):
    review_screenshot = "review_screenshot"
    product_insert_card = "product_insert_card"
    refund_record = "refund_record"
    chat_log = "chat_log"
    order_record = "order_record"
    email = "email"
    listing_snapshot = "listing_snapshot"
    other = "other"


class EvidenceBase(SQLModel):
    """The fields a stored item and its API form share. Every one is required here, so a response always carries
    them all; the table gives the defaults an upload leaves out and adds the delete state."""

    id: uuid.UUID
    # The case the item was uploaded into; exhibits may link it into further cases.
    case_id: uuid.UUID = Field(foreign_key="cases.id", index=True)
    sha256: str = Field(sa_type=String(64), index=True)
    size_bytes: int = Field(sa_type=BigInteger)
    media_type: str = Field(sa_type=String(200))
    original_filename: str = Field(sa_type=Text)
    kind: EvidenceKind = Field(sa_type=String(40))
    title: str = Field(sa_type=Text)
    description: str | None = Field(sa_type=Text)
    occurred_at: datetime | None = Field(sa_type=UTCDateTime)
    captured_at: datetime | None = Field(sa_type=UTCDateTime)
    source_url: str | None = Field(sa_type=Text)
    custodian: str | None = Field(sa_type=Text)
    tags: list[str] = Field(sa_type=JSON)
    facts: dict = Field(sa_type=JSON)
    page_count: int | None
    width: int | None
    height: int | None
    inspection_note: str | None = Field(sa_type=Text)
    uploaded_by: uuid.UUID = Field(foreign_key="users.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class EvidenceItem(EvidenceBase, table=True):
    __tablename__ = "evidence_items"
    __table_args__ = (UniqueConstraint("case_id", "sha256"),)

    id: uuid.UUID = id_field()
    description: str | None = Field(default=None, sa_type=Text)
    occurred_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    captured_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    source_url: str | None = Field(default=None, sa_type=Text)
    custodian: str | None = Field(default=None, sa_type=Text)
    tags: list[str] = Field(default_factory=list, sa_type=JSON)
    facts: dict = Field(default_factory=dict, sa_type=JSON)
    page_count: int | None = None
    width: int | None = None
    height: int | None = None
    inspection_note: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = created_at_field()
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    # Soft delete: the row stays (its custody with it); the blob goes only with an explicit admin purge.
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    deleted_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    deleted_reason: str | None = Field(default=None, sa_type=Text)
    purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class EvidenceUpdate(SQLModel):
    """Metadata that may change; the bytes, hash and sniffed type never do."""

    kind: EvidenceKind | None = None
    title: EvidenceTitle | None = None
    description: Note | None = None
    occurred_at: Instant | None = None
    captured_at: Instant | None = None
    source_url: SourceUrl | None = None
    custodian: Custodian | None = None
    tags: list[Tag] | None = Field(default=None, max_length=TAGS_MAX)
    facts: dict | None = Field(
        default=None, max_length=FACT_KEYS_MAX, description="Keys and values checked per kind (see the README)."
    )


class EvidenceUploadForm(SQLModel):
    """The metadata fields of an upload, as its multipart form sends them (text), held to the limits PATCH
    applies. The upload's OpenAPI schema is made from this model.

    A field sent blank counts as not sent. A form without a kind or a title, or with a field this model does not
    have, is refused as a whole (FormRefused), before any field's limits are checked."""

    model_config = SQLModelConfig(extra="forbid")

    kind: EvidenceKind
    title: EvidenceTitle
    description: Note | None = None
    occurred_at: WrittenDate | None = Field(default=None, description="ISO 8601; without an offset, case timezone")
    captured_at: WrittenDate | None = Field(default=None, description="ISO 8601; without an offset, case timezone")
    source_url: SourceUrl | None = Field(default=None, description="absolute http(s) URL")
    custodian: Custodian | None = None
    tags: TagsText | None = Field(default=None, description="comma-separated")
    facts: FactsJson | None = Field(default=None, description="JSON object; keys validated per kind")
    sha256: str | None = Field(
        default=None,
        max_length=64,
        description="The file's SHA-256 (64 hex digits) as the sender computed it: a file that arrives otherwise is "
        "refused (422, digest_mismatch). Sent before the file part, after the other fields, it also lets the store "
        "write the file straight under its digest.",
    )

    @model_validator(mode="before")
    @classmethod
    def _sent(cls, fields: Any) -> Any:
        if not isinstance(fields, dict):
            return fields
        unknown = set(fields) - set(cls.model_fields)
        if unknown:
            raise FormRefused(f"unknown form field(s): {', '.join(sorted(unknown))}")
        kinds = ", ".join(k.value for k in EvidenceKind)
        kind = fields.get("kind", "").strip()
        if not kind:
            raise FormRefused(f"kind is required: one of {kinds}")
        try:
            kind = EvidenceKind(kind)
        except ValueError:
            raise FormRefused(f"unknown kind {kind[:100]!r}: use one of {kinds}") from None
        if not fields.get("title", "").strip():
            raise FormRefused("title is required")
        return {name: value for name, value in fields.items() if value.strip()} | {"kind": kind}

    @field_validator("sha256")
    @classmethod
    def _digest(cls, value: str | None) -> str | None:
        if value is not None and not is_sha256_hex(value.strip().lower()):
            raise ValueError("must be the file's SHA-256: 64 hexadecimal digits")
        return value

    @field_validator("title", "custodian")
    @classmethod
    def _trimmed(cls, value: str | None) -> str | None:
        return value.strip() if value is not None else None


class ExhibitRef(SQLModel):
    id: uuid.UUID
    label: str


class EvidencePublic(EvidenceBase):
    exhibit: ExhibitRef | None = Field(default=None, description="This item's exhibit in the case it was uploaded to.")
    duplicate: bool = Field(default=False, description="True when these bytes were already evidence in the case.")
    text_status: TextStatus | None = Field(
        default=None, description="Reading the item's text: pending, running, done, failed or skipped."
    )
    text_chars: int | None = Field(default=None, description="Characters of text found.")
    text_pages: int | None = Field(default=None, description="Pages of text (4,000-character sections for text files).")
    ocr_pages: int | None = Field(default=None, description="Pages read by OCR.")
    ocr_seconds: float | None = Field(default=None, description="Seconds OCR took.")
    text_engine: str | None = Field(default=None, description="What read the text: tesseract 5.3.0, pdfium, decoded.")
    text_language: str | None = Field(
        default=None, description="The OCR language(s), Tesseract codes: eng, eng+chi_sim."
    )
    text_error: str | None = Field(
        default=None, description="Why the text failed or was skipped, or what was left out."
    )
