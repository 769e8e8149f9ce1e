"""Derived events: each exhibit whose evidence has an occurred_at is one event, kept in step with it.

Called from the evidence and exhibit services inside their unit of work, so the event changes with the
exhibit or not at all.
"""

from decimal import Decimal, InvalidOperation

from sqlalchemy import delete
from sqlmodel import Session, col, select

from api.dates import instant_span
from api.services.search import index as search_index
from models.case import Case
from models.common import utcnow
from models.evidence import EvidenceItem, EvidenceKind
from models.exhibit import Exhibit
from models.timeline import EventKind, EventSource, TimelineEvent

EVENT_KIND = {
    EvidenceKind.review_screenshot: EventKind.review_posted,
    EvidenceKind.product_insert_card: EventKind.insert_card_received,
    EvidenceKind.refund_record: EventKind.refund_issued,
    EvidenceKind.chat_log: EventKind.message_sent,
    EvidenceKind.order_record: EventKind.order_placed,
    EvidenceKind.email: EventKind.message_sent,
    EvidenceKind.listing_snapshot: EventKind.listing_changed,
    EvidenceKind.other: EventKind.other,
}
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def money(amount, currency: str | None) -> str | None:
    """ "$42.10", "€5.00" or "42.10 CAD"; None when there is no amount."""
    if amount in (None, ""):
        return None
    try:
        text = f"{Decimal(str(amount)):,.2f}"
    except InvalidOperation:
        text = str(amount)
    currency = (currency or "USD").upper()
    return f"{_SYMBOLS[currency]}{text}" if currency in _SYMBOLS else f"{text} {currency}"


def _join(*parts) -> str:
    return " ".join(str(p) for p in parts if p)


def _person(address) -> str:
    """'Noah Lopez <noah@mail.example>' -> 'Noah Lopez'; a bare address stays as it is."""
    name, _, rest = str(address).partition("<")
    return name.strip().strip('"') if rest and name.strip() else str(address).strip()


def derived_title(item: EvidenceItem) -> str:
    """A one-line statement of what the evidence shows, from its kind and facts; its title when facts are thin."""
    f, kind = item.facts or {}, EvidenceKind(item.kind)
    product = _join(f.get("brand"), f.get("product"))
    if kind is EvidenceKind.review_screenshot and (f.get("reviewer_name") or f.get("rating")):
        stars = f"{f['rating']}-star review" if f.get("rating") else "Review"
        by = f" by {f['reviewer_name']}" if f.get("reviewer_name") else ""
        on = f.get("asin") or product
        return f"{stars}{by}" + (f" on {on}" if on else "")
    if kind is EvidenceKind.product_insert_card and f.get("incentive_amount") not in (None, ""):
        offer = (f.get("offer_text") or "").lower()
        five = any(s in offer for s in ("5-star", "5 star", "five-star", "five star"))
        title = f"Insert card offering {money(f['incentive_amount'], f.get('currency'))} for a "
        return title + ("5-star review" if five else "review") + (f" ({product})" if product else "")
    if kind is EvidenceKind.refund_record and f.get("amount") not in (None, ""):
        to = f" to {f['payee']}" if f.get("payee") else ""
        via = f" via {f['processor']}" if f.get("processor") else ""
        return f"Refund of {money(f['amount'], f.get('currency'))}{to}{via}"
    if kind is EvidenceKind.order_record and (f.get("order_id") or f.get("buyer")):
        what = f.get("asin") or product
        return _join(
            "Order",
            f.get("order_id"),
            f"placed by {f['buyer']}" if f.get("buyer") else "placed",
            f"for {what}" if what else None,
            f"({money(f.get('amount'), f.get('currency'))})" if f.get("amount") not in (None, "") else None,
        )
    if kind is EvidenceKind.chat_log and f.get("participants"):
        where = f" on {f['platform']}" if f.get("platform") else ""
        count = f" ({f['message_count']} messages)" if f.get("message_count") else ""
        return f"Chat{where} between {' and '.join(map(str, f['participants'][:4]))}{count}"
    if kind is EvidenceKind.email and (f.get("sender") or f.get("subject")):
        sender = f" from {_person(f['sender'])}" if f.get("sender") else ""
        to = f" to {', '.join(_person(r) for r in f['recipients'][:3])}" if f.get("recipients") else ""
        subject = f": “{f['subject']}”" if f.get("subject") else ""
        return f"Email{sender}{to}{subject}"
    if kind is EvidenceKind.listing_snapshot and (f.get("asin") or product):
        where = f" on {f['marketplace']}" if f.get("marketplace") else ""
        stats = [f"{f['average_rating']} stars" if f.get("average_rating") is not None else None]
        stats.append(f"{f['review_count']:,} reviews" if f.get("review_count") is not None else None)
        shown = ", ".join(s for s in stats if s)
        return f"Listing of {f.get('asin') or product}{where}" + (f": {shown}" if shown else "")
    return item.title


def sync_exhibit(session: Session, *, case: Case, exhibit: Exhibit, item: EvidenceItem) -> TimelineEvent | None:
    """Create, update or remove the exhibit's derived event to match its evidence."""
    event = session.exec(select(TimelineEvent).where(TimelineEvent.exhibit_id == exhibit.id)).first()
    if item.occurred_at is None:
        if event is not None:
            session.delete(event)
            session.flush()
        return None
    span = instant_span(item.occurred_at, case.timezone)
    if event is None:
        event = TimelineEvent(
            case_id=case.id,
            exhibit_id=exhibit.id,
            evidence_id=item.id,
            source=EventSource.derived,
            created_by=exhibit.created_by,
            occurred_at=span.start,
            occurred_until=span.until,
            precision=span.precision,
            title="",
            kind=EventKind.other,
        )
    event.occurred_at, event.occurred_until, event.precision = span.start, span.until, span.precision
    event.title = derived_title(item)
    event.description = item.description
    event.kind = EVENT_KIND[EvidenceKind(item.kind)]
    event.tags = list(item.tags or [])
    event.updated_at = utcnow()
    session.add(event)
    session.flush()
    search_index.index_event(session, event)
    return event


def sync_evidence(session: Session, item: EvidenceItem) -> None:
    """After an evidence edit: bring the derived event of every exhibit of the item, in every case, up to date."""
    rows = session.exec(
        select(Exhibit, Case).join(Case, col(Case.id) == Exhibit.case_id).where(col(Exhibit.evidence_id) == item.id)
    )
    for exhibit, case in rows.all():
        sync_exhibit(session, case=case, exhibit=exhibit, item=item)


def drop_for_exhibit(session: Session, exhibit: Exhibit) -> None:
    """Before an exhibit is unlinked: its derived event goes with it."""
    session.execute(
        delete(TimelineEvent)
        .where(col(TimelineEvent.exhibit_id) == exhibit.id)
        .execution_options(synchronize_session="fetch")
    )
