"""Record sets: a data file (a leaked database's export, a payment processor's CSV, a review or order export) stored
as evidence and read into records, one per line of the file, each with the canonical fields of its role.

A record keeps its row (its 1-based line in the file: a CSV's header is row 1) and its exact source text, so it
can be cited ("PX-014, record 1,234,567") and traced back to the original. The fields a role uses to tell parties
apart (ids, e-mail and PayPal addresses, phones) are also kept in the key columns k1..k6, indexed per record set:
lookups and the review-for-refund finder read them without parsing the fields.
"""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlalchemy import JSON, BigInteger, Column, Float, Index, String, Text
from sqlmodel import Field, SQLModel

from models.common import UTCDateTime, created_at_field, id_field
from models.inputs import EvidenceTitle
from models.job import FAILED, QUEUED, RUNNING, JobStatus


class RecordRole(StrEnum):
    messages = "messages"
    reviews = "reviews"
    payments = "payments"
    orders = "orders"
    accounts = "accounts"
    other = "other"


# The canonical fields of each role, in the order the API lists them.
CANONICAL: dict[RecordRole, tuple[str, ...]] = {
    RecordRole.reviews: (
        "review_id", "reviewer_id", "reviewer_name", "product_id", "seller", "rating", "reviewed_at", "title", "text",
    ),
    RecordRole.payments: (
        "txn_id", "payer", "payee", "payee_email", "amount", "currency", "paid_at", "memo", "type",
    ),
    RecordRole.messages: (
        "message_id", "thread_id", "from", "to", "sent_at", "text", "seller", "product_id", "reviewer_id",
        "contact_email",
    ),
    RecordRole.accounts: ("account_id", "name", "email", "paypal_email", "phone", "profile_url"),
    RecordRole.orders: ("order_id", "buyer_id", "product_id", "seller", "ordered_at", "amount", "status"),
    RecordRole.other: (),
}  # fmt: skip
# Without these a record of the role says nothing the finder or a lawyer can use: a mapping must name them.
REQUIRED: dict[RecordRole, tuple[str, ...]] = {
    RecordRole.reviews: ("reviewer_id", "rating", "reviewed_at"),
    RecordRole.payments: ("amount", "paid_at"),
    RecordRole.messages: ("sent_at",),
    RecordRole.accounts: ("account_id",),
    RecordRole.orders: ("buyer_id", "product_id"),
    RecordRole.other: (),
}
# The time a record happened at, by role: kept in the `at` column for the from/to filters.
TIME_FIELD: dict[RecordRole, str | None] = {
    RecordRole.reviews: "reviewed_at",
    RecordRole.payments: "paid_at",
    RecordRole.messages: "sent_at",
    RecordRole.orders: "ordered_at",
    RecordRole.accounts: None,
    RecordRole.other: None,
}
# The key columns k1..k6 of each role: the fields looked up by value and that tell parties apart.
KEYS: dict[RecordRole, tuple[str, ...]] = {
    RecordRole.reviews: ("review_id", "reviewer_id", "product_id", "seller"),
    RecordRole.payments: ("txn_id", "payee_email", "payer", "payee"),
    RecordRole.messages: ("message_id", "thread_id", "reviewer_id", "contact_email", "seller", "product_id"),
    RecordRole.accounts: ("account_id", "email", "paypal_email", "phone", "profile_url"),
    RecordRole.orders: ("order_id", "buyer_id", "product_id", "seller"),
    RecordRole.other: (),
}
KEY_COLUMNS = ("k1", "k2", "k3", "k4", "k5", "k6")
KEY_TEXT = Text().with_variant(Text(collation="C"), "postgresql")
# The field of each role kept as the record's `number` too (a float, for SQL to filter and add up; the exact value
# stays in the fields).
NUMBER_FIELD: dict[RecordRole, str] = {
    RecordRole.reviews: "rating",
    RecordRole.payments: "amount",
    RecordRole.orders: "amount",
}
# Fields of a fixed vocabulary, matched without regard to case and stored in lower case.
ENUMS: dict[str, tuple[str, ...]] = {
    "type": ("payment", "refund", "reversal", "other"),  # other: a line of the export that sends no money
    "status": ("placed", "shipped", "delivered", "returned", "cancelled"),
}
EMAIL_FIELDS = frozenset({"payee_email", "contact_email", "email", "paypal_email"})
TIME_FIELDS = frozenset({"reviewed_at", "paid_at", "sent_at", "ordered_at"})


class RecordFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"
    es = "es"  # an Elasticsearch export: one hit per line, {"_id": ..., "_source": {...}}


class RecordSetStatus(JobStatus):
    queued = QUEUED
    running = RUNNING
    done = "done"
    failed = FAILED


class RecordSet(SQLModel, table=True):
    __tablename__ = "record_sets"
    __table_args__ = (Index("ix_record_sets_case_created", "case_id", "created_at", "id"),)

    id: uuid.UUID = id_field()
    case_id: uuid.UUID = Field(foreign_key="cases.id", ondelete="CASCADE")
    # The original file, stored as evidence (hash, custody, legal hold) and an exhibit of the case.
    evidence_id: uuid.UUID = Field(foreign_key="evidence_items.id", index=True, ondelete="CASCADE")
    name: str = Field(sa_type=Text)
    role: RecordRole = Field(sa_type=String(20))
    format: RecordFormat = Field(sa_type=String(10))
    compressed: bool = False
    mapping: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    # How the file writes a date of numbers that does not start with its year (03/04/2021): mdy or dmy; none: such
    # a date is refused (api/records/written_times.py).
    date_order: str | None = Field(default=None, sa_type=String(3))
    columns: list[str] = Field(default_factory=list, sa_type=JSON)  # a CSV's header, to list a record's other fields
    status: RecordSetStatus = Field(default=RecordSetStatus.queued, sa_type=String(20))
    rows_done: int = Field(default=0, sa_type=BigInteger)
    rows_rejected: int = Field(default=0, sa_type=BigInteger)
    rows_total: int | None = Field(default=None, sa_type=BigInteger)
    bytes_read: int = Field(default=0, sa_type=BigInteger)
    errors: list[dict] = Field(default_factory=list, sa_type=JSON)
    message: str | None = Field(default=None, sa_type=Text)
    created_by: uuid.UUID = Field(foreign_key="users.id")
    created_at: datetime = created_at_field()
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Record(SQLModel, table=True):
    """A record. Besides its primary key, each record set but a small one has indexes of its own on its key columns
    and its time, built once its import is done (api/records/load.py `create_indexes`): built in one pass over sorted
    values, they cost a fraction of what indexes kept up row by row during a load cost.

    On PostgreSQL each record set's records are a partition of their own (api/records/load.py `prepare`), so that
    reading a set, indexing it or removing it touches that set's rows only, however many the case holds."""

    __tablename__ = "records"
    __table_args__ = {"postgresql_partition_by": "LIST (record_set_id)"}

    # Its record set, with no foreign key: PostgreSQL checked one row by row as a set was copied in, some 40% of the
    # COPY's time. Each way a set goes removes its records first (api/services/record_sets.py).
    record_set_id: uuid.UUID = Field(primary_key=True)
    row: int = Field(sa_type=BigInteger, primary_key=True)
    at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The keys compare byte by byte on PostgreSQL (collation "C"): they are only ever matched, never shown in an
    # order, and a set's indexes on them are built by sorting a million values each, which took twice as long under
    # a language's collation. SQLite compares bytes already.
    k1: str | None = Field(default=None, sa_column=Column("k1", KEY_TEXT))
    k2: str | None = Field(default=None, sa_column=Column("k2", KEY_TEXT))
    k3: str | None = Field(default=None, sa_column=Column("k3", KEY_TEXT))
    k4: str | None = Field(default=None, sa_column=Column("k4", KEY_TEXT))
    k5: str | None = Field(default=None, sa_column=Column("k5", KEY_TEXT))
    k6: str | None = Field(default=None, sa_column=Column("k6", KEY_TEXT))
    number: float | None = Field(default=None, sa_type=Float)  # NUMBER_FIELD's value
    # The canonical fields, normalised (e-mails in lower case, times in UTC, amounts as exact decimal text).
    fields: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    source_line: str = Field(sa_type=Text)
    # Set when the line was not UTF-8 and was read in another encoding (its name).
    decoded_as: str | None = Field(default=None, sa_type=String(20))


class RecordError(BaseModel):
    line: int = PydanticField(description="The line of the file (1-based) that was refused.")
    message: str


class RecordSetPublic(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    evidence_id: uuid.UUID = PydanticField(description="The original file, stored as evidence.")
    exhibit_label: str | None = PydanticField(description="Its exhibit label in the case, which citations use.")
    sha256: str = PydanticField(description="SHA-256 of the original file.")
    name: str
    role: RecordRole
    format: RecordFormat
    compressed: bool
    mapping: dict[str, str]
    date_order: str | None = PydanticField(
        default=None, description="How the file writes a date such as 03/04/2021: mdy or dmy (null: not said)."
    )
    status: RecordSetStatus
    rows_done: int = PydanticField(description="Records stored so far.")
    rows_total: int | None = PydanticField(
        description="Records in the file: an estimate while it is read (from the bytes read so far), exact once done."
    )
    rows_rejected: int = PydanticField(description="Lines refused (each has a reason; the first ones are in errors).")
    errors: list[RecordError]
    bytes_read: int
    size_bytes: int
    message: str | None = PydanticField(description="Why the import failed, in a sentence; null otherwise.")
    created_by: uuid.UUID
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class RecordPublic(BaseModel):
    row: int = PydanticField(description="The record's 1-based line in the file (a CSV's header is row 1).")
    fields: dict[str, Any] = PydanticField(description="The canonical fields of the record set's role, normalised.")
    unmapped: dict[str, Any] = PydanticField(description="The line's other fields, as they are in the file.")
    source_line: str = PydanticField(description="The record's exact text in the file.")
    decoded_as: str | None = PydanticField(description="The encoding the line was read in when it was not UTF-8.")
    citation: str = PydanticField(description='How to cite it, e.g. "PX-014, record 1,234,567".')


class ExtractCreate(BaseModel):
    filter: dict[str, str] = PydanticField(
        default_factory=dict, max_length=20, description="The same {field: value} filters the records listing takes."
    )
    title: EvidenceTitle = PydanticField(description="The new evidence item's title.")


class ExtractPublic(BaseModel):
    evidence_id: uuid.UUID = PydanticField(description="The new evidence item: a CSV of the matching records.")
    exhibit_label: str | None
    sha256: str = PydanticField(description="SHA-256 of the extract's CSV.")
    rows: int = PydanticField(description="Records in the extract.")
    filter: dict[str, Any] = PydanticField(description="The filter as it was applied (values made canonical).")
    source_sha256: str = PydanticField(description="SHA-256 of the record set's original file.")
    record_set_id: uuid.UUID
