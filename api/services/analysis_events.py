"""Findings into the case's timeline: for each finding chosen, the offer (each message of the reviewer's threads that
offers money for a review), the review and the payment(s), as events citing the record set's original (the
evidence item) and, in their description, the record itself ("PX-014, record 1,234,567").

Each event is tagged with its finding ("F-000012") and its analysis ("analysis-1a2b3c4d"), so the timeline can be
filtered to them; a finding whose events are already there is passed over, so asking twice adds nothing twice.
"""

import uuid

from sqlmodel import Session, col, select

from api.errors import UnprocessableEntity
from api.services import analyses
from api.services.timeline import events as timeline_service
from models.analysis import Analysis, AnalysisStatus, Finding
from models.case import Case
from models.record_set import RecordSet
from models.timeline import EventCreate, EventKind, TimelineEventTag
from models.user import User

MAX_FINDINGS = 5000  # findings turned into events by one request


def _tag(analysis: Analysis) -> str:
    return f"analysis-{analysis.id.hex[:8]}"


def create_events(
    session: Session, analysis: Analysis, *, actor: User, finding_ids: list[str] | None, min_score: float | None
) -> dict:
    if analysis.status != AnalysisStatus.done:
        raise UnprocessableEntity(f"the analysis is {analysis.status}: its findings become events once it is done")
    case = session.get(Case, analysis.case_id)
    assert case is not None
    numbers = None
    if finding_ids is not None:
        try:
            numbers = {int(f.removeprefix("F-")) for f in finding_ids}
        except ValueError:
            raise UnprocessableEntity("finding_ids: ids such as F-000012") from None
    chosen = [
        f
        for f in analyses.every_finding(session, analysis, seller=None, product=None, min_score=min_score)
        if numbers is None or f.number in numbers
    ]
    if numbers is not None and len(chosen) != len(numbers):
        found = {f.number for f in chosen}
        missing = sorted(analyses.finding_id(n) for n in numbers - found)
        raise UnprocessableEntity(f"finding_ids: this analysis has no {', '.join(missing[:10])}")
    if len(chosen) > MAX_FINDINGS:
        raise UnprocessableEntity(
            f"{len(chosen):,} findings chosen; at most {MAX_FINDINGS:,} become events at once: "
            "choose them by min_score or by their ids"
        )
    tag = _tag(analysis)
    done = _findings_with_events(session, case, tag)
    originals: dict[str, uuid.UUID] = {}

    def original(set_id: str) -> uuid.UUID:
        if set_id not in originals:
            record_set = session.get(RecordSet, uuid.UUID(set_id))
            assert record_set is not None
            originals[set_id] = record_set.evidence_id
        return originals[set_id]

    created, skipped = 0, 0
    for finding in chosen:
        fid = analyses.finding_id(finding.number)
        if fid.lower() in done:
            skipped += 1
            continue
        for data in _events(finding, fid, tag, original):
            timeline_service.create_event(session, case=case, actor=actor, data=data)
            created += 1
    return {"findings": len(chosen) - skipped, "events_created": created, "findings_passed_over": skipped, "tag": tag}


def _findings_with_events(session: Session, case: Case, tag: str) -> set[str]:
    """The finding tags (lower case) of events already made from this analysis."""
    tagged = select(TimelineEventTag.event_id).where(
        col(TimelineEventTag.case_id) == case.id, col(TimelineEventTag.tag_key) == tag.lower()
    )
    rows = session.exec(
        select(TimelineEventTag.tag_key).where(
            col(TimelineEventTag.event_id).in_(tagged), col(TimelineEventTag.tag_key).startswith("f-")
        )
    ).all()
    return set(rows)


def _events(finding: Finding, fid: str, tag: str, original) -> list[EventCreate]:
    tags = [fid, tag, "paid review"]
    review = finding.review
    out = []
    for message in finding.messages:
        if message.get("offer") and message.get("sent_at"):
            out.append(
                EventCreate(
                    occurred_at=message["sent_at"],
                    title=f"Offer of money for a review ({fid})"[:500],
                    description=f"A message in the reviewer's threads offers money for a review. Source: "
                    f"{message['citation']}.",
                    kind=EventKind.message_sent,
                    evidence_id=original(message["record_set_id"]),
                    tags=tags,
                )
            )
    reviewer = finding.reviewer.get("reviewer_id", "")
    out.append(
        EventCreate(
            occurred_at=review["reviewed_at"],
            title=f"Review rated {review.get('rating', ''):g} of {finding.product_id or 'a product'} by {reviewer}"[
                :500
            ],
            description=f"Seller {finding.seller or 'unknown'}. Source: {review['citation']}.",
            kind=EventKind.review_posted,
            evidence_id=original(review["record_set_id"]),
            tags=tags,
        )
    )
    for payment in finding.payments:
        money = f"{payment['amount']} {payment.get('currency') or ''}".strip()
        out.append(
            EventCreate(
                occurred_at=payment["paid_at"],
                title=f"{'Refund' if payment.get('type') == 'refund' else 'Payment'} of {money} to {reviewer}"[:500],
                description=f"From {payment.get('payer') or 'unknown'} to {payment.get('payee_email') or 'unknown'}"
                f"{', transaction ' + payment['txn_id'] if payment.get('txn_id') else ''}. Source: "
                f"{payment['citation']}.",
                kind=EventKind.refund_issued,
                evidence_id=original(payment["record_set_id"]),
                tags=tags,
            )
        )
    return out
