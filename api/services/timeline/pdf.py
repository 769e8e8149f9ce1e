"""The chronology as a court-ready PDF: a summary under FRE 1006, rendered from our own template only."""

import uuid
from collections import Counter
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from api import dates, templating
from api.errors import UnprocessableEntity
from api.services.timeline import query
from api.services.timeline.citations import CitedBundle, content_range, placements, split_range
from api.templating import render
from models.case import Case
from models.common import utcnow
from models.evidence import EvidenceItem
from models.exhibit import Exhibit
from models.timeline import Precision

MAX_PDF_EVENTS = 1000  # about 100 pages, rendered in ~15 s on a small server
PDF_DESCRIPTION_CHARS = 1200
NOT_IN_BUNDLE = "not in this bundle"  # beside an exhibit the cited bundle does not hold, in place of its Bates cite


KIND_LABELS = {
    "order_placed": "Order placed",
    "insert_card_received": "Insert card received",
    "review_posted": "Review posted",
    "refund_issued": "Refund issued",
    "message_sent": "Message sent",
    "listing_changed": "Listing changed",
    "enforcement_action": "Enforcement action",
    "filing": "Filing",
    "other": "Other",
}


def _cite(citation: dict | None, bundle: CitedBundle | None) -> tuple[str, tuple[str, str] | None]:
    """The exhibit a citation names, in words, and the Bates range it cites (its two ends, the same for a page);
    an exhibit the cited bundle does not hold is marked so."""
    if not citation:
        return "", None
    if citation["exhibit_label"] is None:
        return f"Evidence {str(citation['evidence_id'])[:8]} (not an exhibit in this case)", None
    text = citation["exhibit_label"] + (f", p. {citation['page']}" if citation["page"] else "")
    if not citation["bates"]:
        return (f"{text}; {NOT_IN_BUNDLE}" if bundle else text), None
    return text, split_range(citation["bates"]) or (citation["bates"], citation["bates"])


def _selection(case: Case, f: query.TimelineFilter) -> list[str]:
    """The filters in words, so the reader knows what the summary covers."""
    parts = []
    if f.start or f.end:
        start = f"from {f.texts['start']}" if f.start else "up to"
        end = f" until {f.texts['end']} (exclusive)" if f.end else " onwards"
        parts.append(f"events {start}{end}, in {case.timezone}")
    if f.kinds:
        parts.append("kinds: " + ", ".join(KIND_LABELS[k].lower() for k in f.kinds))
    if f.evidence_kinds:
        parts.append("evidence kinds: " + ", ".join(k.replace("_", " ") for k in f.evidence_kinds))
    if f.tags:
        parts.append("tagged: " + ", ".join(f.tags))
    if f.disputed is not None:
        parts.append("disputed events only" if f.disputed else "undisputed events only")
    if f.q:
        parts.append(f"containing “{f.q}”")
    return parts


def _exhibits(session: Session, case: Case, events: list[dict], bundle: CitedBundle | None) -> list[dict]:
    counts = Counter(e["evidence_id"] for e in events if e["evidence_id"] is not None)
    cited = {uuid.UUID(evidence_id) for evidence_id in counts}
    if not cited:
        return []
    rows = session.exec(
        select(Exhibit, EvidenceItem)
        .join(EvidenceItem, col(EvidenceItem.id) == Exhibit.evidence_id)
        .where(col(Exhibit.case_id) == case.id, col(Exhibit.evidence_id).in_(cited))
        .order_by(col(Exhibit.position))
    ).all()
    # As reproduced in the cited bundle: its Bates range, and its page count where the original has none of its
    # own (an e-mail, a spreadsheet).
    placed = placements(session, bundle, [exhibit.id for exhibit, _ in rows])
    out = []
    for exhibit, item in rows:
        where = placed.get(exhibit.id)
        start_page, page_count, first_content_page, *_ = where or (None,) * 8
        out.append(
            {
                "label": exhibit.label,
                "title": item.title,
                "kind": item.kind.replace("_", " "),
                "filename": item.original_filename,
                "pages": item.page_count or (page_count - (first_content_page - start_page) if where else None),
                "bates": content_range(where) if where else None,
                "not_in_bundle": bundle is not None and where is None,
                "sha256": item.sha256,
                "cited": counts[str(item.id)],
            }
        )
    return out


def _built(bundle: CitedBundle | None, case: Case) -> str | None:
    if bundle is None or bundle.finished_at is None:
        return None
    return dates.display(bundle.finished_at, bundle.finished_at, Precision.minute, case.timezone)


def render_pdf(
    session: Session, case: Case, f: query.TimelineFilter, bundle: CitedBundle | None, *, now: datetime | None = None
) -> bytes:
    """Render the filtered chronology as a summary under FRE 1006: caption, dated entries citing exhibits, every
    Bates number from `bundle`, which the first page names with its SHA-256."""
    rows = query.fetch(session, case.id, f, after=None, limit=MAX_PDF_EVENTS + 1, labels=True)
    if len(rows) > MAX_PDF_EVENTS:
        raise UnprocessableEntity(
            f"a PDF summary holds at most {MAX_PDF_EVENTS:,} events and this selection has more: "
            "narrow it with start, end, kind, tag or q (the CSV export has no limit)"
        )
    events = query.shape(session, case, rows, bundle)
    for e in events:
        e["kind_label"] = KIND_LABELS[e["kind"]]
        e["cite"], e["cite_bates"] = _cite(e["citation"], bundle)
        timed = e["precision"] in (Precision.minute, Precision.second)
        e["date_line"], e["time_line"] = e["date_display"].rsplit(", ", 1) if timed else (e["date_display"], "")
        text = e["description"] or ""
        e["summary"] = text if len(text) <= PDF_DESCRIPTION_CHARS else text[:PDF_DESCRIPTION_CHARS].rstrip() + " […]"
    now = now or utcnow()
    html = render(
        "timeline.html",
        case=case,
        plaintiffs=[p["name"] for p in case.parties if p.get("role", "").lower() in ("plaintiff", "petitioner")],
        defendants=[p["name"] for p in case.parties if p.get("role", "").lower() in ("defendant", "respondent")],
        events=events,
        exhibits=_exhibits(session, case, events, bundle),
        bundle=bundle,
        built=_built(bundle, case),
        not_in_bundle=NOT_IN_BUNDLE,
        selection=_selection(case, f),
        timezone=case.timezone,
        generated=dates.display(now, now, Precision.minute, case.timezone),
        created=now.astimezone(UTC).isoformat(timespec="seconds"),
        disputed=sum(1 for e in events if e["disputed"]),
        descending=f.order == "desc",
    )
    return templating.render_pdf(html)
