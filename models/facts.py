"""Per-kind schemas for an evidence item's `facts`: unknown keys and wrong types are refused."""

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from models.evidence import EvidenceKind

Text = str


class _Facts(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, str_max_length=20_000)


class ReviewScreenshotFacts(_Facts):
    marketplace: Text | None = None
    asin: Text | None = Field(default=None, max_length=20)
    product: Text | None = None
    brand: Text | None = None
    reviewer_name: Text | None = None
    rating: int | None = Field(default=None, ge=1, le=5, strict=True)
    review_title: Text | None = None
    review_text: Text | None = None
    review_date: date | None = None
    verified_purchase: bool | None = Field(default=None, strict=True)
    order_id: Text | None = None


class ProductInsertCardFacts(_Facts):
    brand: Text | None = None
    product: Text | None = None
    asin: Text | None = Field(default=None, max_length=20)
    incentive_amount: Decimal | None = Field(default=None, ge=0)
    currency: Text | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    contact: Text | None = None
    offer_text: Text | None = None


class RefundRecordFacts(_Facts):
    processor: Text | None = None
    transaction_id: Text | None = None
    amount: Decimal | None = None
    currency: Text | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    payer: Text | None = None
    payee: Text | None = None
    refund_date: date | None = None
    order_id: Text | None = None


class ChatLogFacts(_Facts):
    platform: Text | None = None
    participants: list[Text] | None = None
    first_message_at: datetime | None = None
    last_message_at: datetime | None = None
    message_count: int | None = Field(default=None, ge=0, strict=True)
    order_id: Text | None = None


class OrderRecordFacts(_Facts):
    marketplace: Text | None = None
    order_id: Text | None = None
    asin: Text | None = Field(default=None, max_length=20)
    product: Text | None = None
    amount: Decimal | None = None
    currency: Text | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    order_date: date | None = None
    buyer: Text | None = None


class EmailFacts(_Facts):
    sender: Text | None = None
    recipients: list[Text] | None = None
    subject: Text | None = None
    sent_at: datetime | None = None
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
        model = FACTS_SCHEMAS[kind].model_validate(facts)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'facts'}: {err['msg']}" for err in exc.errors())
        raise ValueError(f"invalid facts for kind {kind.value}: {problems}") from None
    if kind is EvidenceKind.other:
        for key, value in facts.items():
            if isinstance(value, dict):
                raise ValueError(f"invalid facts for kind other: {key}: nested objects are not allowed")
    return model.model_dump(mode="json", exclude_unset=True)
