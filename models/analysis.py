"""Analyses over a case's record sets, run in the background, and what they find. The one kind so far is the
review-for-refund finder: reviews whose reviewer was paid by the reviewed product's seller around the review."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, StringConstraints, model_validator
from pydantic import Field as PydanticField
from sqlalchemy import JSON, BigInteger, Float, Index, String, Text
from sqlmodel import Field, SQLModel

from models.common import UTCDateTime, created_at_field, id_field
from models.job import FAILED, QUEUED, RUNNING, JobStatus


class AnalysisType(StrEnum):
    review_for_refund = "review_for_refund"


class AnalysisStatus(JobStatus):
    queued = QUEUED
    running = RUNNING
    done = "done"
    failed = FAILED


class Analysis(SQLModel, table=True):
    __tablename__ = "analyses"
    __table_args__ = (Index("ix_analyses_case_created", "case_id", "created_at", "id"),)

    id: uuid.UUID = id_field()
    case_id: uuid.UUID = Field(foreign_key="cases.id", ondelete="CASCADE")
    type: AnalysisType = Field(sa_type=String(40))
    params: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    status: AnalysisStatus = Field(default=AnalysisStatus.queued, sa_type=String(20))
    step: str | None = Field(default=None, sa_type=String(40))
    records_read: int = Field(default=0, sa_type=BigInteger)
    counts: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    # Totals per seller and product for the summary: findings, money paid, 5-star reviews.
    totals: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    message: str | None = Field(default=None, sa_type=Text)
    created_by: uuid.UUID = Field(foreign_key="users.id")
    created_at: datetime = created_at_field()
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Finding(SQLModel, table=True):
    __tablename__ = "findings"
    __table_args__ = (
        Index("ix_findings_seller", "analysis_id", "seller", "number"),
        Index("ix_findings_product", "analysis_id", "product_id", "number"),
    )

    analysis_id: uuid.UUID = Field(foreign_key="analyses.id", primary_key=True, ondelete="CASCADE")
    number: int = Field(primary_key=True, sa_type=BigInteger)
    seller: str | None = Field(default=None, sa_type=Text)
    product_id: str | None = Field(default=None, sa_type=Text)
    score: float = Field(sa_type=Float)
    amount: str = Field(sa_type=String(40))
    currency: str | None = Field(default=None, sa_type=String(10))
    days: float = Field(sa_type=Float)
    reviewed_at: datetime = Field(sa_type=UTCDateTime)
    paid_at: datetime = Field(sa_type=UTCDateTime)
    reviewer: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)  # {"reviewer_id", "keys": [...]}
    review: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)  # a record ref
    payments: list[dict] = Field(default_factory=list, sa_type=JSON)
    messages: list[dict] = Field(default_factory=list, sa_type=JSON)
    reasons: list[str] = Field(default_factory=list, sa_type=JSON)


class AnalysisCreate(BaseModel):
    type: AnalysisType
    review_sets: list[uuid.UUID] = PydanticField(min_length=1, max_length=50)
    payment_sets: list[uuid.UUID] = PydanticField(min_length=1, max_length=50)
    message_sets: list[uuid.UUID] = PydanticField(default_factory=list, max_length=50)
    account_sets: list[uuid.UUID] = PydanticField(default_factory=list, max_length=50)
    order_sets: list[uuid.UUID] = PydanticField(default_factory=list, max_length=50)
    min_rating: float = PydanticField(5, ge=0, le=100)
    window_days_before: float = PydanticField(3, ge=0, le=3650)
    window_days_after: float = PydanticField(60, ge=0, le=3650)

    @model_validator(mode="after")
    def _distinct(self):
        sets = [*self.review_sets, *self.payment_sets, *self.message_sets, *self.account_sets, *self.order_sets]
        if len(set(sets)) != len(sets):
            raise ValueError("a record set is named twice: each set belongs to one role")
        return self


class AnalysisPublic(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    type: AnalysisType
    params: dict[str, Any]
    status: AnalysisStatus
    progress: dict[str, Any] = PydanticField(description="{step, records_read} while it runs.")
    counts: dict[str, Any] = PydanticField(description="findings, reviews_considered, payments_read, explained...")
    message: str | None
    created_by: uuid.UUID
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class FindingPublic(BaseModel):
    finding_id: str
    reviewer: dict[str, Any] = PydanticField(description="The reviewer's identity: reviewer_id and its linked keys.")
    review: dict[str, Any] = PydanticField(description="The review's record ref, rating, product, seller and time.")
    payments: list[dict[str, Any]] = PydanticField(description="The payments' record refs, amounts and times.")
    messages: list[dict[str, Any]] = PydanticField(description="Messages of the reviewer's threads that support it.")
    seller: str | None
    product_id: str | None
    amount: str = PydanticField(description="The payment's gross amount, exact.")
    currency: str | None
    days: float = PydanticField(description="Days from the review to the payment (negative: paid before it).")
    score: float
    reasons: list[str]


class FindingEventsCreate(BaseModel):
    finding_ids: list[Annotated[str, StringConstraints(max_length=20)]] | None = PydanticField(
        None, max_length=5000, description="The findings to add (F-000012, ...); all of them when left out."
    )
    min_score: float | None = PydanticField(None, ge=0, le=1, description="Only findings scored this or higher.")


class FindingEventsCreated(BaseModel):
    findings: int = PydanticField(description="Findings whose events were added.")
    events_created: int
    findings_passed_over: int = PydanticField(description="Findings whose events were added before.")
    tag: str = PydanticField(description="The tag every event of this analysis carries, to filter the timeline by.")
