"""Per-kind schemas for an evidence item's `facts`: unknown keys and wrong types are refused."""

import json
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from models.evidence import EvidenceKind
from models.inputs import (
    AMOUNT_MAX,
    FACT_CHARS,
    FACT_KEY_CHARS,
    FACT_KEYS_MAX,
    FACT_LIST_MAX,
    FACTS_JSON_CHARS,
    Day,
    Instant,
    describe_errors,
)
from models.inputs import FactText as Text  # the one text fact type, under the name the schemas read best with
from models.safe_json import JSONRefused, check_json

Money = Annotated[Decimal, Field(ge=-AMOUNT_MAX, le=AMOUNT_MAX)]


class _Facts(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, str_max_length=FACT_CHARS)


class ReviewScreenshotFacts(_Facts):
    marketplace: Text | None = None
    asin: Text | None = Field(default=None, max_length=20)
    product: Text | None = None
    brand: Text | None = None
    reviewer_name: Text | None = None
    rating: int | None = Field(default=None, ge=1, le=5, strict=True)
    review_title: Text | None = None
    review_text: Text | None = None
    review_date: Day | None = None
    verified_purchase: bool | None = Field(default=None, strict=True)
    order_id: Text | None = None


class ProductInsertCardFacts(_Facts):
    brand: Text | None = None
    product: Text | None = None
    asin: Text | None = Field(default=None, max_length=20)
    incentive_amount: Money | None = Field(default=None, ge=0)
    currency: Text | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    contact: Text | None = None
    offer_text: Text | None = None


class RefundRecordFacts(_Facts):
    processor: Text | None = None
    transaction_id: Text | None = None
    amount: Money | None = None
    currency: Text | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    payer: Text | None = None
    payee: Text | None = None
    refund_date: Day | None = None
    order_id: Text | None = None


class ChatLogFacts(_Facts):
    platform: Text | None = None
    participants: list[Text] | None = Field(default=None, max_length=FACT_LIST_MAX)
    first_message_at: Instant | None = None
    last_message_at: Instant | None = None
    message_count: int | None = Field(default=None, ge=0, strict=True)
    order_id: Text | None = None


class OrderRecordFacts(_Facts):
    marketplace: Text | None = None
    order_id: Text | None = None
    asin: Text | None = Field(default=None, max_length=20)
    product: Text | None = None
    amount: Money | None = None
    currency: Text | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    order_date: Day | None = None
    buyer: Text | None = None


class EmailFacts(_Facts):
    sender: Text | None = None
    recipients: list[Text] | None = Field(default=None, max_length=FACT_LIST_MAX)
    subject: Text | None = None
    sent_at: Instant | None = None
    message_id: Text | None = None


class ListingSnapshotFacts(_Facts):
    marketplace: Text | None = None
    asin: Text | None = Field(default=None, max_length=20)
    product: Text | None = None
    brand: Text | None = None
    average_rating: Decimal | None = Field(default=None, ge=0, le=5)
    review_count: int | None = Field(default=None, ge=0, strict=True)
    listing_url: Text | None = None


class OtherFacts(_Facts):
    """Free-form: any keys, but values must be plain JSON scalars or lists of them."""

    model_config = ConfigDict(extra="allow")


FACTS_SCHEMAS: dict[EvidenceKind, type[_Facts]] = {
    EvidenceKind.review_screenshot: ReviewScreenshotFacts,
    EvidenceKind.product_insert_card: ProductInsertCardFacts,
    EvidenceKind.refund_record: RefundRecordFacts,
    EvidenceKind.chat_log: ChatLogFacts,
    EvidenceKind.order_record: OrderRecordFacts,
    EvidenceKind.email: EmailFacts,
    EvidenceKind.listing_snapshot: ListingSnapshotFacts,
    EvidenceKind.other: OtherFacts,
}


def validate_facts(kind: EvidenceKind, facts: object) -> dict:
    """Validate facts for a kind; returns them JSON-ready with unset keys dropped, or raises ValueError."""
    if not isinstance(facts, dict):
        raise ValueError("facts must be a JSON object")
    try:
        check_json(facts)
    except JSONRefused as exc:
        raise ValueError(f"invalid facts for kind {kind.value}: {exc.where('facts')}: {exc.message}") from None
    if kind is EvidenceKind.other:
        _check_free_form(facts)
    try:
        model = FACTS_SCHEMAS[kind].model_validate(facts)
    except ValidationError as exc:
        raise ValueError(f"invalid facts for kind {kind.value}: {describe_errors(exc, 'facts')}") from None
    out = model.model_dump(mode="json", exclude_unset=True)
    if len(json.dumps(out)) > FACTS_JSON_CHARS:
        raise ValueError(
            f"facts are longer than {FACTS_JSON_CHARS:,} characters written as JSON: keep the longest text in the file"
        )
    return out


def _check_free_form(facts: dict) -> None:
    """Kind other: at most FACT_KEYS_MAX keys, each a short name, each value a JSON scalar or a list of them."""
    problem = "invalid facts for kind other"
    if len(facts) > FACT_KEYS_MAX:
        raise ValueError(f"{problem}: at most {FACT_KEYS_MAX} keys, not {len(facts)}")
    for key, value in facts.items():
        if not key.strip() or len(key) > FACT_KEY_CHARS:
            raise ValueError(f"{problem}: a key must have 1 to {FACT_KEY_CHARS} characters, not {len(key)}")
        items = value if isinstance(value, list) else [value]
        if isinstance(value, list) and len(value) > FACT_LIST_MAX:
            raise ValueError(f"{problem}: {key}: at most {FACT_LIST_MAX} values, not {len(value)}")
        if any(isinstance(item, dict | list) for item in items):
            raise ValueError(f"{problem}: {key}: values must be text, numbers, true/false or lists of them")
        if any(isinstance(item, str) and len(item) > FACT_CHARS for item in items):
            raise ValueError(f"{problem}: {key}: text of at most {FACT_CHARS:,} characters")
