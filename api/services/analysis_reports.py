"""What an analysis's findings become outside the API's pages: a CSV of them all, each cell written as the
timeline's CSV writes it (text starting with = + - @ gets a ' first, so a spreadsheet never runs it), and the
summary for court under FRE 1006."""

import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlmodel import Session

from api import dates, templating
from api.db import session_scope
from api.downloads import content_disposition
from api.errors import UnprocessableEntity
from api.services import analyses, audit, record_sets
from api.services.timeline.csv import csv_line
from api.templating import render
from models.analysis import Analysis, AnalysisStatus
from models.case import Case
from models.common import utcnow
from models.evidence import EvidenceItem
from models.record_set import RecordSet
from models.timeline import Precision
from models.user import User

CSV_COLUMNS = (
    "finding_id",
    "score",
    "seller",
    "product_id",
    "reviewer_id",
    "reviewer_keys",
    "review",
    "rating",
    "reviewed_at",
    "payments",
    "txn_ids",
    "amount",
    "currency",
    "paid_at",
    "days",
    "messages",
    "reasons",
)


def record_read(session: Session, analysis: Analysis, user: User, action: str, details: dict) -> None:
    audit.record_case(
        session,
        action,
        analysis.case_id,
        actor=user,
        details={"analysis_id": str(analysis.id)} | {k: v for k, v in details.items() if v is not None},
    )


def findings_csv(analysis_id: uuid.UUID, filters: dict) -> Iterator[bytes]:
    """Every finding as a CSV row (UTF-8 with a BOM, for spreadsheets), read a thousand at a time."""
    yield ("\ufeff" + csv_line(list(CSV_COLUMNS))).encode()
    with session_scope() as session:
        analysis = session.get(Analysis, analysis_id)
        assert analysis is not None
        for f in analyses.every_finding(session, analysis, **filters):
            first = f.payments[0]
            row = [
                analyses.finding_id(f.number),
                f"{f.score:.2f}",
                f.seller or "",
                f.product_id or "",
                f.reviewer.get("reviewer_id", ""),
                "; ".join(f.reviewer.get("keys", [])),
                f.review["citation"],
                f"{f.review.get('rating', '')}",
                f.review.get("reviewed_at") or "",
                "; ".join(p["citation"] for p in f.payments),
                "; ".join(p.get("txn_id") or "" for p in f.payments),
                f.amount,
                f.currency or "",
                first.get("paid_at") or "",
                f"{f.days:.4f}",
                "; ".join(m["citation"] for m in f.messages),
                "; ".join(f.reasons),
            ]
            yield csv_line(row).encode()


# The summary for court (FRE 1006).

APPENDIX_FINDINGS = 2000  # findings cited one by one in the appendix; the rest are in the findings CSV it hashes
TABLE_ROWS = 100  # sellers and products listed


def _number(value: float) -> str:
    return f"{value:g}"


def _days(value: float) -> str:
    return f"{_number(value)} day{'' if value == 1 else 's'}"


def _paid(paid: dict[str, str]) -> str:
    return "; ".join(_amount(amount, currency) for currency, amount in paid.items()) or "—"


KEY_KINDS = {"id": "account", "em": "e-mail", "ph": "phone", "url": "profile"}


def key_text(key: str) -> str:
    """A typed identity key as a reader reads it: "e-mail emily@mail.example" for em:emily@mail.example."""
    kind, _, value = key.partition(":")
    return f"{KEY_KINDS.get(kind, kind)} {value}"


def _amount(amount: str, currency: str | None) -> str:
    return f"{Decimal(amount):,.2f} {currency or ''}".strip()


def _date(iso: str | None, timezone: str) -> str:
    if not iso:
        return "—"
    at = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(ZoneInfo(timezone))
    return at.strftime("%Y-%m-%d %H:%M")


def _sets(session: Session, analysis: Analysis) -> list[dict]:
    out = []
    for name, role in analyses.ROLES.items():
        for set_id in analysis.params.get(name, []):
            record_set = session.get(RecordSet, uuid.UUID(set_id))
            if record_set is None:
                continue
            item = session.get(EvidenceItem, record_set.evidence_id)
            out.append(
                {
                    "label": record_sets.exhibit_label(session, record_set) or "—",
                    "role": role.value,
                    "name": record_set.name,
                    "rows": record_set.rows_done,
                    "sha256": item.sha256 if item else "",
                }
            )
    return out


def _findings_sha256(analysis_id: uuid.UUID) -> str:
    digest = hashlib.sha256()
    for chunk in findings_csv(analysis_id, {"seller": None, "product": None, "min_score": None}):
        digest.update(chunk)
    return digest.hexdigest()


def summary_pdf(session: Session, analysis: Analysis, actor: User) -> tuple[bytes, dict[str, str]]:
    """The analysis as a summary under FRE 1006: the records summarized with their originals' SHA-256, totals per
    seller and product (paid reviews, money paid, share of the highly rated reviews), a month chart, the largest
    reviewer identities, and an appendix citing the records of every finding; dated, and hashed: it names the
    SHA-256 of the findings CSV it counts, and the audit event holds the PDF's own."""
    if analysis.status != AnalysisStatus.done:
        raise UnprocessableEntity(f"the analysis is {analysis.status}: its summary is made once it is done")
    case = session.get(Case, analysis.case_id)
    assert case is not None
    totals, counts, params = analysis.totals, analysis.counts, analysis.params
    sellers = [
        s | {"paid_text": _paid(s["paid"]), "share_text": f"{s['share']:.1%}" if s["share"] is not None else "—"}
        for s in totals.get("sellers", [])
    ]
    products = [
        p | {"paid_text": _paid(p["paid"]), "share_text": f"{p['share']:.1%}" if p["share"] is not None else "—"}
        for p in totals.get("products", [])
    ]
    paid_all: dict[str, Decimal] = {}
    for s in totals.get("sellers", []):
        for currency, amount in s["paid"].items():
            paid_all[currency] = paid_all.get(currency, Decimal(0)) + Decimal(amount)
    months = totals.get("months", {})
    busiest = max(months.values(), default=1)
    findings: list[dict] = []
    for f in analyses.every_finding(session, analysis, seller=None, product=None, min_score=None):
        if len(findings) >= APPENDIX_FINDINGS:
            break
        findings.append(
            {
                "finding_id": analyses.finding_id(f.number),
                "seller": f.seller,
                "product_id": f.product_id,
                "review": f.review,
                "rating": _number(f.review.get("rating", 0)),
                "review_date": _date(f.review.get("reviewed_at"), case.timezone),
                "payments": [
                    p | {"date": _date(p.get("paid_at"), case.timezone), "money": _amount(p["amount"], p["currency"])}
                    for p in f.payments
                ],
                "messages": f.messages,
            }
        )
    clusters = []
    for c in totals.get("clusters", []):
        numbers = c["finding_numbers"]
        shown = ", ".join(analyses.finding_id(n) for n in numbers[:30]) + (", …" if len(numbers) > 30 else "")
        clusters.append(c | {"key_texts": [key_text(k) for k in c["keys"]], "findings_text": shown})
    now = utcnow()
    html = render(
        "analysis_summary.html",
        case=case,
        analysis=analysis,
        params=params,
        counts={"findings": counts.get("findings", 0)},
        min_rating=_number(params["min_rating"]),
        before=_days(params["window_days_before"]),
        after=_days(params["window_days_after"]),
        sets=_sets(session, analysis),
        sellers=sellers[:TABLE_ROWS],
        sellers_left=max(0, len(sellers) - TABLE_ROWS),
        products=products[:TABLE_ROWS],
        products_left=max(0, len(products) - TABLE_ROWS),
        total_paid=_paid({c: str(v) for c, v in sorted(paid_all.items())}),
        months=[{"month": m, "count": n, "width": round(100 * n / busiest, 1)} for m, n in months.items()],
        clusters=clusters,
        findings=findings,
        findings_left=max(0, counts.get("findings", 0) - len(findings)),
        findings_sha256=_findings_sha256(analysis.id),
        finished=_date(analysis.finished_at.isoformat() if analysis.finished_at else None, case.timezone),
        generated=dates.display(now, now, Precision.minute, case.timezone),
        created=now.astimezone(UTC).isoformat(timespec="seconds"),
        timezone=case.timezone,
    )
    pdf = templating.render_pdf(html)
    sha256 = hashlib.sha256(pdf).hexdigest()
    record_read(session, analysis, actor, "analysis.summary", {"sha256": sha256, "size_bytes": len(pdf)})
    name = f"paid-reviews-summary-{analysis.id}.pdf"
    return pdf, {"Content-Disposition": content_disposition(name), "X-Content-SHA256": sha256}
