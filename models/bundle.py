"""Exhibit bundles: a court-ready PDF built from a case's exhibits, and where each exhibit landed in it."""

import re
import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import field_validator
from sqlalchemy import JSON, BigInteger, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.common import UTCDateTime, created_at_field, id_field
from models.inputs import (
    BATES_PREFIX_CHARS,
    BUNDLE_EXHIBITS_MAX,
    EXHIBIT_LABEL_CHARS,
    BatesDigits,
    BatesNumber,
    BatesPrefix,
    BundleTitle,
    VolumeMegabytes,
)
from models.job import FAILED, QUEUED, RUNNING, JobStatus


class BundleStatus(JobStatus):
    queued = QUEUED
    running = RUNNING
    done = "done"
    failed = FAILED


class Rendering(StrEnum):
    """How much of an exhibit a built bundle reproduces on paper."""

    complete = "complete"  # every page, row and character of the original
    truncated = "truncated"  # printed in part; a page after what is printed identifies the native file
    placeholder = "placeholder"  # not printed: a page identifies the file and says why


class Legend(StrEnum):
    """Legends from the least restrictive to the most: front matter carries the last one any exhibit has."""

    confidential = "CONFIDENTIAL"
    attorneys_eyes_only = "CONFIDENTIAL - ATTORNEYS' EYES ONLY"


class WithheldTitles(StrEnum):
    """Designations whose exhibits' titles `redact_titles_of` keeps off the bundle's public parts. Each covers the
    more restrictive ones too: withholding confidential titles withholds attorneys'-eyes-only ones as well."""

    confidential = "confidential"
    aeo = "aeo"


BATES_PREFIX_RE = re.compile(r"^[A-Z0-9_-]*[A-Z_-]$")


class BundleRequest(SQLModel):
    """What to build. Stored on the bundle (with defaults resolved) so a rebuild is byte-identical."""

    title: BundleTitle | None = None
    exhibit_ids: list[uuid.UUID] | None = Field(
        default=None, max_length=BUNDLE_EXHIBITS_MAX, description="Ordered; default every exhibit in order."
    )
    bates_prefix: BatesPrefix | None = Field(
        default=None, description="Default: the case's. [A-Z0-9_-], not ending in a digit."
    )
    bates_start: BatesNumber | None = Field(default=None, description="Default: one past the highest issued.")
    bates_digits: BatesDigits = 6
    cover: bool = True
    index: bool = True
    slip_sheets: bool = True
    certificate: bool = True
    legend: Legend | None = Field(default=None, description="Default: per exhibit, from its designation.")
    max_volume_mb: VolumeMegabytes | None = Field(default=None, description="Split into volumes of this size.")
    allow_incomplete: bool = Field(
        default=False,
        description="Accept exhibits not reproduced in full (rendering truncated or placeholder): validation.ok "
        "stays true, and validation.warnings still lists them.",
    )
    filing_copy: bool = Field(
        default=False,
        description="A filing copy: each exhibit with redactions is bundled as its redacted copy (its last applied "
        "redaction set); 409 when an exhibit has accepted redactions not applied yet. A redacted copy that is an "
        "exhibit itself is left out when its original is in the bundle. Bundles built without it are unchanged.",
    )
    redact_titles_of: list[WithheldTitles] = Field(
        default_factory=list,
        max_length=len(WithheldTitles),
        description="Designations (`aeo`, `confidential`) whose exhibits' titles, file names and sources are "
        "withheld from the index, bookmarks, slip sheets and certificate; the exhibit pages themselves are unchanged.",
    )

    @field_validator("redact_titles_of", mode="before")
    @classmethod
    def _withheld(cls, value):
        # The designation's own name is accepted for aeo, as the exhibit resource spells it.
        if isinstance(value, list):
            value = ["aeo" if v == "attorneys_eyes_only" else v for v in value]
        return value

    @field_validator("redact_titles_of")
    @classmethod
    def _withheld_once(cls, value: list[WithheldTitles]) -> list[WithheldTitles]:
        return list(dict.fromkeys(value))

    @field_validator("bates_prefix")
    @classmethod
    def _prefix(cls, value: str | None) -> str | None:
        if value is not None and not BATES_PREFIX_RE.match(value):
            raise ValueError("bates_prefix must use only A-Z, 0-9, '_' and '-', and must not end in a digit")
        return value

    @field_validator("exhibit_ids")
    @classmethod
    def _ids(cls, value: list[uuid.UUID] | None) -> list[uuid.UUID] | None:
        if value is not None:
            if not value:
                raise ValueError("exhibit_ids is empty: leave it out to bundle every exhibit, or list some")
            if len(set(value)) != len(value):
                raise ValueError("exhibit_ids lists an exhibit twice")
        return value


class Bundle(SQLModel, table=True):
    __tablename__ = "bundles"
    __table_args__ = (Index("ix_bundles_case_created", "case_id", "created_at", "id"),)

    id: uuid.UUID = id_field()
    case_id: uuid.UUID = Field(foreign_key="cases.id", ondelete="CASCADE")
    title: str = Field(sa_type=Text)
    # The resolved BundleRequest: exhibit ids, Bates prefix/start/digits and options.
    params: dict = Field(sa_type=JSON)
    bates_prefix: str = Field(max_length=BATES_PREFIX_CHARS)
    status: BundleStatus = Field(default=BundleStatus.queued, sa_type=String(20))
    error: str | None = Field(default=None, sa_type=Text)
    progress_done: int = 0
    progress_total: int = 0
    page_count: int | None = None
    size_bytes: int | None = Field(default=None, sa_type=BigInteger)
    sha256: str | None = Field(default=None, max_length=64)
    bates_first: str | None = Field(default=None, max_length=50)
    bates_last: str | None = Field(default=None, max_length=50)
    bates_last_number: int | None = Field(default=None, sa_type=BigInteger)
    volumes: list[dict] = Field(default_factory=list, sa_type=JSON)
    validation: dict = Field(default_factory=dict, sa_type=JSON)
    created_by: uuid.UUID = Field(foreign_key="users.id")
    created_at: datetime = created_at_field()
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The bundle this one was rebuilt beside, because a legal hold kept that one as it was built.
    rebuilt_from: uuid.UUID | None = Field(default=None, foreign_key="bundles.id", ondelete="SET NULL")


class BundleExhibit(SQLModel, table=True):
    """Where an exhibit sits in a built bundle: the source of every Bates citation."""

    __tablename__ = "bundle_exhibits"
    __table_args__ = (UniqueConstraint("bundle_id", "seq"),)

    id: uuid.UUID = id_field()
    bundle_id: uuid.UUID = Field(foreign_key="bundles.id", ondelete="CASCADE", index=True)
    seq: int
    exhibit_id: uuid.UUID = Field(index=True)
    evidence_id: uuid.UUID
    label: str = Field(max_length=EXHIBIT_LABEL_CHARS)
    evidence_sha256: str = Field(max_length=64)
    start_page: int
    page_count: int
    first_content_page: int
    bates_first: str = Field(max_length=50)
    bates_last: str = Field(max_length=50)
    bates_first_number: int = Field(sa_type=BigInteger)
    volume: int = 1
    # A Rendering value; None for a bundle built before this was recorded (rendering_reason then says so).
    rendering: str | None = Field(default=None, sa_type=String(20))
    rendering_reason: str | None = Field(default=None, sa_type=Text)


class BundleExhibitPublic(SQLModel):
    exhibit_id: uuid.UUID
    label: str
    evidence_id: uuid.UUID
    evidence_sha256: str
    start_page: int
    page_count: int
    first_content_page: int
    bates_first: str
    bates_last: str
    volume: int
    rendering: Rendering | None = Field(
        default=None,
        description="complete: reproduced in full; truncated: printed in part (the rest is in the native file, "
        "identified on a page after it); placeholder: not printed, a page identifies the file. None for a bundle "
        "built before this was recorded: rebuild it to know.",
    )
    rendering_reason: str | None = Field(
        default=None, description="In words, what is not printed and why; None when complete."
    )


class VolumePublic(SQLModel):
    number: int
    page_count: int
    size_bytes: int
    sha256: str
    bates_first: str
    bates_last: str
    filename: str


class BundleProgress(SQLModel):
    done: int
    total: int


class BundlePublic(SQLModel):
    id: uuid.UUID
    case_id: uuid.UUID
    title: str
    status: BundleStatus
    error: str | None
    progress: BundleProgress
    page_count: int | None
    size_bytes: int | None
    sha256: str | None
    bates_first: str | None
    bates_last: str | None
    params: dict
    exhibits: list[BundleExhibitPublic] = []
    volumes: list[VolumePublic] = []
    validation: dict
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    rebuilt_from: uuid.UUID | None = Field(
        default=None, description="The bundle this one was rebuilt beside, because a legal hold kept that one."
    )
