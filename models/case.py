"""Cases and their members."""

import uuid
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import field_validator
from sqlalchemy import JSON, Column, ForeignKey, String, Text, Uuid
from sqlmodel import Field, SQLModel

from models.common import UTCDateTime, created_at_field, id_field, utcnow
from models.inputs import (
    BATES_PREFIX_CHARS,
    BATES_PREFIX_PATTERN,
    CASE_TITLE_CHARS,
    COURT_CHARS,
    DOCKET_NUMBER_CHARS,
    LABEL_TEMPLATE_CHARS,
    PARTIES_MAX,
    REASON_CHARS,
    TIMEZONE_CHARS,
    CaseBatesPrefix,
    CaseTitle,
    Court,
    DocketNumber,
    Email,
    LabelTemplate,
    PartyName,
    PartyRole,
    Reason,
    Timezone,
    label_problem,
)


class CaseType(StrEnum):
    lanham_act = "lanham_act"
    ftc_act = "ftc_act"
    ftc_consumer_reviews_rule = "ftc_consumer_reviews_rule"
    state_udap = "state_udap"
    platform_enforcement = "platform_enforcement"
    other = "other"


class Role(StrEnum):
    viewer = "viewer"
    editor = "editor"
    owner = "owner"

    @property
    def rank(self) -> int:
        return ("viewer", "editor", "owner").index(self.value)


class Party(SQLModel):
    name: PartyName
    role: PartyRole = Field(description="e.g. plaintiff, defendant, seller, reviewer")


class PartyPublic(SQLModel):
    name: str
    role: str


DEFAULT_LABEL_TEMPLATE = "PX-{n:03d}"


def check_label_template(template: str) -> str:
    if problem := label_problem(template):
        raise ValueError(f"exhibit_label_template {problem}")
    return template


def exhibit_label(template: str, number: int) -> str:
    """The label a case's template gives exhibit `number`; ValueError (saying why) when it cannot make a usable
    one, as a template stored before templates were checked this closely may not."""
    check_label_template(template)
    return template.format(n=number)


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA timezone {name!r}") from None
    return name


class CaseBase(SQLModel):
    """The columns, as the case is stored and shown; CaseCreate and CaseUpdate check what a user sends."""

    title: str = Field(min_length=1, max_length=CASE_TITLE_CHARS)
    docket_number: str | None = Field(default=None, max_length=DOCKET_NUMBER_CHARS)
    court: str | None = Field(default=None, max_length=COURT_CHARS)
    case_type: CaseType = Field(sa_type=String(40))
    bates_prefix: str | None = Field(
        default=None, max_length=BATES_PREFIX_CHARS, schema_extra={"pattern": BATES_PREFIX_PATTERN}
    )
    exhibit_label_template: str = Field(default=DEFAULT_LABEL_TEMPLATE, max_length=LABEL_TEMPLATE_CHARS)
    timezone: str = Field(default="UTC", max_length=TIMEZONE_CHARS)


class Case(CaseBase, table=True):
    __tablename__ = "cases"

    id: uuid.UUID = id_field()
    parties: list[dict] = Field(default_factory=list, sa_type=JSON)
    # Next exhibit number to hand out; only ever incremented, so labels are never reused.
    next_exhibit_number: int = 1
    created_by: uuid.UUID = Field(foreign_key="users.id")
    created_at: datetime = created_at_field()
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    # Legal hold: while set, nothing in the case may be deleted, unlinked, overwritten or purged.
    legal_hold_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    legal_hold_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    legal_hold_reason: str | None = Field(default=None, sa_type=Text)
    # The bundle the case has filed (or will): its chronology cites that bundle's Bates numbers by default.
    # use_alter: bundles name their case too, so one of the two keys is added after both tables exist.
    filed_bundle_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("bundles.id", ondelete="SET NULL", use_alter=True), nullable=True),
    )

    @property
    def on_hold(self) -> bool:
        return self.legal_hold_at is not None


class CaseCreate(CaseBase):
    title: CaseTitle
    docket_number: DocketNumber | None = None
    court: Court | None = None
    bates_prefix: CaseBatesPrefix | None = None
    exhibit_label_template: LabelTemplate = DEFAULT_LABEL_TEMPLATE
    timezone: Timezone = "UTC"
    parties: list[Party] = Field(default_factory=list, max_length=PARTIES_MAX)

    _template = field_validator("exhibit_label_template")(check_label_template)
    _timezone = field_validator("timezone")(check_timezone)


class CaseUpdate(SQLModel):
    title: CaseTitle | None = None
    docket_number: DocketNumber | None = None
    court: Court | None = None
    case_type: CaseType | None = None
    bates_prefix: CaseBatesPrefix | None = None
    exhibit_label_template: LabelTemplate | None = None
    timezone: Timezone | None = None
    parties: list[Party] | None = Field(default=None, max_length=PARTIES_MAX)

    @field_validator("exhibit_label_template")
    @classmethod
    def _template(cls, v: str | None) -> str | None:
        return None if v is None else check_label_template(v)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str | None) -> str | None:
        return None if v is None else check_timezone(v)


LEGAL_HOLD_REASON_CHARS = REASON_CHARS


class LegalHoldRequest(SQLModel):
    reason: Reason = Field(description="Why the case is held (a preservation notice...).")

    @field_validator("reason")
    @classmethod
    def _reason(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("reason must not be blank: say why the case is held")
        return v


class LegalHold(SQLModel):
    reason: str
    set_at: datetime
    set_by: uuid.UUID | None


class LegalHoldState(SQLModel):
    case_id: uuid.UUID
    on_hold: bool
    reason: str | None = None
    set_at: datetime | None = None
    set_by: uuid.UUID | None = None


class CasePublic(CaseBase):
    id: uuid.UUID
    parties: list[PartyPublic]
    role: Role | None = Field(default=None, description="The caller's role in this case.")
    created_at: datetime
    updated_at: datetime
    legal_hold: LegalHold | None = Field(
        default=None, description="Set while the case is on legal hold: nothing in it can be deleted or unlinked."
    )
    filed_bundle_id: uuid.UUID | None = Field(
        default=None,
        description="The bundle marked as the one filed (PUT /cases/{case_id}/filed-bundle): the chronology cites "
        "its Bates numbers unless asked for another.",
    )


class FiledBundleRequest(SQLModel):
    bundle_id: uuid.UUID = Field(description="A done bundle of this case.")


class CaseMember(SQLModel, table=True):
    __tablename__ = "case_members"

    case_id: uuid.UUID = Field(foreign_key="cases.id", primary_key=True, ondelete="CASCADE")
    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True, index=True, ondelete="CASCADE")
    role: Role = Field(sa_type=String(20))
    added_at: datetime = created_at_field()


class MemberCreate(SQLModel):
    email: Email
    role: Role


class MemberPublic(SQLModel):
    user_id: uuid.UUID
    email: str
    full_name: str | None
    role: Role
    added_at: datetime
