"""The review-for-refund finder: reviews rated at least `min_rating` whose reviewer was paid from the reviewed
product's seller side around the review.

Its input comes from the database in this order: the keys of accounts and messages (they link into identities),
the orders (returned or cancelled ones explain a refund), then the candidates: the pairs of a review and a
payment to its reviewer's identity around its time, which the database joins (api/services/analyses.py), with the
messages of those reviewers. Neither the reviews nor the payments are ever all held in memory.

A payment makes a review a finding when its payee is in the reviewer's identity; it was paid from
`window_days_before` days before the review to `window_days_after` days after (elapsed time, both ends inside);
it is a payment or refund, not a reversal (nor a line of the export that sends no money, typed `other`); it comes
from the seller's side (the payer is linked to the review's seller, or the payment's memo names the product, or the
payer wrote to the reviewer about the product in one of the reviewer's threads); and no order of the reviewer's
identity for the same product was returned or cancelled (that explains a refund). Messages of the reviewer's threads
that offer money for a review, or name the product or the seller, strengthen it.
"""

import re
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from api.records.identity import Identities, email_key, id_key, party_key, phone_key, url_key

DAY = 86_400.0
MESSAGE_TEXT_KEPT = 400  # of a message without a product field: enough to see a product id named in it
MESSAGES_CITED = 20
# Money, refunds and reviews in the languages the click farms write in.
_MONEY = re.compile(
    r"refund|reimburs|money back|paypal|cash ?back|\$\s?\d|\d\s?(usd|eur|gbp|€|£)|free product|compensat|"
    r"返金|退款|返现|返款|报销|払い戻|환불|reembols|rembours|erstatt|rimbors|استرداد|استرجاع|تعويض|החזר|"
    r"वापसी|धनवापसी|คืนเงิน",
    re.IGNORECASE,
)
_REVIEW = re.compile(
    r"review|5[- ]?star|five[- ]?star|★|rating|feedback|好评|评价|五星|レビュー|星5|리뷰|별점|reseña|reseña|avis|"
    r"bewertung|recensione|مراجعة|تقييم|ביקורת|समीक्षा|รีวิว",
    re.IGNORECASE,
)


def offers_money_for_review(text: str | None) -> bool:
    return bool(text) and bool(_MONEY.search(text or "")) and bool(_REVIEW.search(text or ""))


@dataclass(frozen=True)
class Params:
    min_rating: float = 5
    window_days_before: float = 3
    window_days_after: float = 60


@dataclass(slots=True)
class Review:
    ref: tuple[str, int]  # (record set id, row)
    at: float
    reviewer_id: str
    product_id: str | None
    seller: str | None
    rating: float
    key: str


@dataclass(slots=True)
class Message:
    ref: tuple[str, int]
    at: float | None
    key: str
    sender: str | None  # its `from`, as a party key
    product_id: str | None
    seller: str | None
    text: str | None  # the start of its text, in lower case, when it has no product field
    offer: bool = False  # whether it offers money for a review: told for the messages of findings (`offers`)


@dataclass(slots=True)
class Payment:
    ref: tuple[str, int]
    at: float
    payee_email: str
    payer: str | None
    amount: str
    currency: str | None
    type: str | None
    memo: str | None
    txn_id: str | None


@dataclass
class Hit:
    review: Review
    payments: list[Payment] = field(default_factory=list)
    linked_payer: bool = False
    memo_names: bool = False
    message_names: bool = False


@dataclass
class Result:
    review: Review
    payments: list[Payment]  # closest to the review first
    messages: list[Message]
    identity: str
    score: float
    reasons: list[str]

    @property
    def amount(self) -> str:
        return self.payments[0].amount

    @property
    def days(self) -> float:
        return round((self.payments[0].at - self.review.at) / DAY, 4)


def _names(haystack: str | None, needle: str | None) -> bool:
    return bool(haystack and needle) and (needle or "").lower() in (haystack or "").lower()


class Finder:
    """The rules, fed in this order: accounts and message links (they make the identities), orders (returned or
    cancelled ones explain a refund), then the candidate pairs a database join gives (a review rated high enough and
    a payment to its reviewer's identity, around its time) with the messages of those reviewers' identities."""

    def __init__(self, params: Params):
        self.params = params
        self.identities = Identities()
        self.explaining_orders: set[tuple[str, str]] = set()  # (buyer key, product) of returned or cancelled orders
        self.counts: dict[str, int] = defaultdict(int)
        # (seller, product) -> reviews rated at least min_rating: the denominator of a product's share.
        self.high_reviews: dict[tuple[str | None, str | None], int] = defaultdict(int)
        self._hits: dict[tuple[str, int], Hit] = {}
        self._messages: dict[str, list[Message]] = defaultdict(list)
        self._explaining_resolved = False

    # What links keys.

    def account(self, account_id, email, paypal_email, phone, profile_url) -> None:
        self.identities.link(
            [id_key(account_id), email_key(email), email_key(paypal_email), phone_key(phone), url_key(profile_url)]
        )

    def message_link(self, reviewer_id, contact_email) -> None:
        self.identities.link([id_key(reviewer_id), email_key(contact_email)])

    def order(self, buyer_id, product_id, status) -> None:
        if status in ("returned", "cancelled") and buyer_id and product_id:
            self.explaining_orders.add((id_key(buyer_id) or "", product_id))

    def linked(self) -> Iterator[tuple[str, str, str]]:
        """(kind, value, identity) of every id and e-mail key linked to another: a review meets a payment only
        through these (a reviewer id alone never equals an e-mail address)."""
        for key in list(self.identities.keys()):
            kind, _, value = key.partition(":")
            if kind in ("id", "em"):
                yield kind, value, self.identities.of(key) or key

    # The messages of the identities that have candidates.

    def message(self, identity: str, ref, at, seller, product_id, text, sender) -> None:
        kept = None if product_id else (text or "")[:MESSAGE_TEXT_KEPT].lower() or None
        self._messages[identity].append(
            Message(ref, at, identity, party_key(sender), _intern(product_id), _intern(seller), kept)
        )

    def found_in(self) -> set[str]:
        """The identities with findings so far: only their messages are cited, so only theirs need `offers`."""
        return {self._reviewer(hit.review) for hit in self._hits.values()}

    def _reviewer(self, review: Review) -> str:
        """The identity of a review's reviewer: the one its finding names and cites the messages of."""
        return self.identities.of(review.key) or review.key

    def offers(self, identity: str, texts: dict[tuple[str, int], str | None]) -> None:
        """Tell which messages of an identity offer money for a review, from their texts by ref. The rules never
        look at it, so it is asked after them, for the identities with findings only: the test is two searches of
        every message's text, half the time reading the reviewers' messages took at a million reviews."""
        for message in self._messages.get(identity, ()):
            message.offer = offers_money_for_review(texts.get(message.ref))

    # The candidates.

    def consider(self, identity: str, review: Review, payment: Payment) -> None:
        """A review and a payment to its reviewer's identity, found by the join (which may have been generous with
        the window): a finding when the rules hold."""
        if not self._explaining_resolved:
            self.explaining_orders = {(self.identities.of(k) or k, p) for k, p in self.explaining_orders}
            self._explaining_resolved = True
        before, after = self.params.window_days_before * DAY, self.params.window_days_after * DAY
        if review.rating < self.params.min_rating or not review.at - before <= payment.at <= review.at + after:
            return
        self.counts["candidate_pairs"] += 1
        if payment.type == "reversal":
            self.counts["explained_reversal"] += 1
            return
        if payment.type == "other":  # a line of the export that sends no money: a hold, a currency conversion
            self.counts["not_money_sent"] += 1
            return
        payer = self.identities.of(party_key(payment.payer))
        seller = self.identities.of(id_key(review.seller)) if review.seller else None
        linked = payer is not None and seller is not None and payer == seller
        memo = _names(payment.memo, review.product_id)
        named = not linked and not memo and payer is not None and self._message_names(identity, review, payer)
        if not (linked or memo or named):
            return
        if review.product_id and (identity, review.product_id) in self.explaining_orders:
            self.counts["explained_order"] += 1
            return
        hit = self._hits.get(review.ref)
        if hit is None:
            hit = self._hits[review.ref] = Hit(review)
        if any(p.ref == payment.ref for p in hit.payments):
            return
        hit.payments.append(payment)
        hit.linked_payer |= linked
        hit.memo_names |= memo
        hit.message_names |= named

    def _message_names(self, identity: str, review: Review, payer: str) -> bool:
        """Whether the payer wrote to the reviewer, in one of the reviewer's threads, about the reviewed product:
        the payment then comes from the seller's side even from an address nothing else links to the seller."""
        if not review.product_id:
            return False
        for message in self._messages.get(identity, ()):
            if message.sender is None or self.identities.of(message.sender) != payer:
                continue
            if message.product_id == review.product_id or _names(message.text, review.product_id):
                return True
        return False

    # The outcome.

    def results(self) -> list[Result]:
        """The findings, in the order of their reviews' times (then rows), each with its evidence and score."""
        out = []
        for ref in sorted(self._hits, key=lambda r: (self._hits[r].review.at, r)):
            hit = self._hits[ref]
            review = hit.review
            identity = self._reviewer(review)
            payments = sorted(hit.payments, key=lambda p: (abs(p.at - review.at), p.at, p.ref))
            messages = self._supporting(identity, review, payments)
            score, reasons = _score(hit, payments[0], messages, review)
            out.append(Result(review, payments, messages, identity, score, reasons))
        return out

    def _supporting(self, identity: str, review: Review, payments: list[Payment]) -> list[Message]:
        latest = max(p.at for p in payments)
        found = []
        for message in self._messages.get(identity, ()):
            if message.at is not None and message.at > latest + DAY:
                continue
            about = (review.product_id and message.product_id == review.product_id) or (
                review.seller and message.seller == review.seller
            )
            if message.offer or about or _names(message.text, review.product_id):
                found.append(message)
        found.sort(key=lambda m: (not m.offer, m.at or 0, m.ref))
        return found[:MESSAGES_CITED]


def _score(hit: Hit, payment: Payment, messages: list[Message], review: Review) -> tuple[float, list[str]]:
    days = (payment.at - review.at) / DAY
    reasons = [f"rated {review.rating:g}; paid {_days(days)} {'after' if days >= 0 else 'before'} the review"]
    score = 0.0
    if hit.linked_payer:
        score += 0.5
        reasons.append("the payer is linked to the product's seller")
    if hit.memo_names:
        score += 0.35 if not hit.linked_payer else 0.1
        reasons.append(f"the payment's memo names the product {review.product_id}")
    if hit.message_names and not hit.linked_payer and not hit.memo_names:
        score += 0.3
        reasons.append(f"the payer wrote to the reviewer about the product {review.product_id}")
    offers = [m for m in messages if m.offer]
    if offers:
        score += 0.2
        reasons.append(f"{len(offers)} message(s) in the reviewer's threads offer money for a review")
    if 0 <= days <= 14:
        score += 0.1
        reasons.append("paid within two weeks after the review")
    if payment.type == "refund":
        score += 0.05
        reasons.append("paid as a refund, with no return or cancellation to explain it")
    if len(hit.payments) > 1:
        reasons.append(f"{len(hit.payments)} payments in the window")
    return round(min(score, 1.0), 2), reasons


def _days(days: float) -> str:
    whole = abs(days)
    return f"{whole:.1f} day{'s' if round(whole, 1) != 1 else ''}"


def _intern(value: str | None) -> str | None:
    return sys.intern(value) if value else None


def epoch(value: datetime | str | float | None) -> float | None:
    if value is None or isinstance(value, float):
        return value
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace(" ", "T"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()
