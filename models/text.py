"""The text of each evidence item: a background job per item (api/services/text.py) that reads its words (OCR for
pictures and image-only PDF pages, the embedded text of other PDF pages, the decoded text of e-mail, text, CSV and
JSON), and the pages it found, with Tesseract's word boxes where it read them."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Float, Index, Integer, LargeBinary, String, Text
from sqlmodel import Field, SQLModel

from models.common import UTCDateTime, utcnow
from models.job import FAILED, QUEUED, RUNNING, JobStatus


class TextJobStatus(JobStatus):
    """As stored: the lifecycle every job shares, `done` its success; `skipped` (nothing to read, with the reason)
    is written over `done` when the job finishes."""

    queued = QUEUED
    running = RUNNING
    done = "done"
    failed = FAILED


class TextStatus(StrEnum):
    """As the API says it: a queued job is `pending`."""

    pending = "pending"
    running = "running"
    done = "done"
    failed = "failed"
    skipped = "skipped"


SKIPPED = "skipped"


def public_status(stored: str | None) -> TextStatus | None:
    if stored is None:
        return None
    return TextStatus.pending if stored == QUEUED else TextStatus(stored)


class PageSource(StrEnum):
    embedded = "embedded"  # a PDF page's own text
    ocr = "ocr"  # read from its pixels by Tesseract
    decoded = "decoded"  # an e-mail, text, CSV or JSON file's text (a "page" is a section of it)


class EvidenceText(SQLModel, table=True):
    """One row per evidence item (same id), created when the item is: the job and what it found."""

    __tablename__ = "evidence_texts"
    __table_args__ = (Index("ix_evidence_texts_status_queued", "status", "queued_at"),)

    id: uuid.UUID = Field(foreign_key="evidence_items.id", primary_key=True, ondelete="CASCADE")
    status: str = Field(default=QUEUED, sa_type=String(20))
    language: str = Field(sa_type=String(200))  # Tesseract's -l: "eng", "eng+chi_sim"
    engine: str | None = Field(default=None, sa_type=String(200))
    chars: int | None = Field(default=None, sa_type=Integer)
    pages: int | None = Field(default=None, sa_type=Integer)
    ocr_pages: int | None = Field(default=None, sa_type=Integer)
    ocr_seconds: float | None = Field(default=None, sa_type=Float)
    error: str | None = Field(default=None, sa_type=Text)  # why it failed or was skipped; a note on a partial read
    queued_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class EvidenceTextPage(SQLModel, table=True):
    """One page of an item's text (1-based). An OCR'd page keeps Tesseract's TSV and hOCR (word boxes, in pixels of
    the `width` x `height` image it read) and its text-only PDF page, the invisible layer a bundle lays over the
    picture: stored once, so every rebuild lays the same bytes."""

    __tablename__ = "evidence_text_pages"

    evidence_id: uuid.UUID = Field(foreign_key="evidence_texts.id", primary_key=True, ondelete="CASCADE")
    page: int = Field(primary_key=True, sa_type=Integer)
    source: str = Field(sa_type=String(20))
    text: str = Field(sa_type=Text)
    width: int | None = Field(default=None, sa_type=Integer)
    height: int | None = Field(default=None, sa_type=Integer)
    tsv: str | None = Field(default=None, sa_type=Text)
    hocr: str | None = Field(default=None, sa_type=Text)
    layer: bytes | None = Field(default=None, sa_type=LargeBinary)
