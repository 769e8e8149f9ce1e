"""Cases and their members."""

import uuid
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import field_validator
from sqlalchemy import JSON, String, Text
from sqlmodel import Field, SQLModel

from models.common import UTCDateTime, created_at_field, id_field, utcnow


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
    name: str = Field(min_length=1, max_length=300)
    role: str = Field(min_length=1, max_length=100, description="e.g. plaintiff, defendant, seller, reviewer")


DEFAULT_LABEL_TEMPLATE = "PX-{n:03d}"
# Printed on every bundle page: letters, digits, "-" and "_" only.
BATES_PREFIX_PATTERN = r"^[A-Za-z0-9_\-]*$"


def check_label_template(template: str) -> str:
    try:
        label = template.format(n=1)
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise ValueError(f"exhibit_label_template must use only the field {{n}}: {exc}") from None
    if label == template.format(n=2):
        raise ValueError("exhibit_label_template must contain {n}, e.g. 'PX-{n:03d}'")
    return template


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA timezone {name!r}") from None
    return name


class CaseBase(SQLModel):
    title: str = Field(min_length=1, max_length=500)
    docket_number: str | None = Field(default=None, max_length=100)
    court: str | None = Field(default=None, max_length=300)
    case_type: CaseType = Field(sa_type=String(40))
    bates_prefix: str | None = Field(default=None, max_length=30, schema_extra={"pattern": BATES_PREFIX_PATTERN})
    exhibit_label_template: str = Field(default=DEFAULT_LABEL_TEMPLATE, max_length=50)
    timezone: str = Field(default="UTC", max_length=64)


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

    @property
    def on_hold(self) -> bool:
        return self.legal_hold_at is not None


class CaseCreate(CaseBase):
    parties: list[Party] = Field(default_factory=list, max_length=200)

    _template = field_validator("exhibit_label_template")(check_label_template)
    _timezone = field_validator("timezone")(check_timezone)


class CaseUpdate(SQLModel):
    title: str | None = Field(default=None, min_length=1, max_length=500)
    docket_number: str | None = Field(default=None, max_length=100)
    court: str | None = Field(default=None, max_length=300)
    case_type: CaseType | None = None
    bates_prefix: str | None = Field(default=None, max_length=30, schema_extra={"pattern": BATES_PREFIX_PATTERN})
    exhibit_label_template: str | None = Field(default=None, max_length=50)
    timezone: str | None = Field(default=None, max_length=64)
    parties: list[Party] | None = Field(default=None, max_length=200)

    @field_validator("exhibit_label_template")
    @classmethod
    def _template(cls, v: str | None) -> str | None:
        return None if v is None else check_label_template(v)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str | None) -> str | None:
        return None if v is None else check_timezone(v)


LEGAL_HOLD_REASON_CHARS = 2000


class LegalHoldRequest(SQLModel):
    reason: str = Field(
        min_length=1, max_length=LEGAL_HOLD_REASON_CHARS, description="Why the case is held (a preservation notice...)."
    )

    @field_validator("reason")
    @classmethod
    def _reason(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("reason must not be blank: say why the case is held")
        if "\x00" in v:
            raise ValueError("reason contains a NUL character")
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
    parties: list[Party]
    role: Role | None = Field(default=None, description="The caller's role in this case.")
    created_at: datetime
    updated_at: datetime
    legal_hold: LegalHold | None = Field(
        default=None, description="Set while the case is on legal hold: nothing in it can be deleted or unlinked."
    )


class CaseMember(SQLModel, table=True):
    __tablename__ = "case_members"

    case_id: uuid.UUID = Field(foreign_key="cases.id", primary_key=True, ondelete="CASCADE")
    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True, index=True, ondelete="CASCADE")
    role: Role = Field(sa_type=String(20))
    added_at: datetime = created_at_field()


class MemberCreate(SQLModel):
    email: str = Field(min_length=3, max_length=320)
    role: Role


class MemberPublic(SQLModel):
    user_id: uuid.UUID
    email: str
    full_name: str | None
    role: Role
    added_at: datetime
