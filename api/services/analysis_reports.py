"""What an analysis's findings become outside the API's pages: a CSV of them all, each cell written as the
timeline's CSV writes it (text starting with = + - @ gets a ' first, so a spreadsheet never runs it)."""

import uuid
from collections.abc import Iterator

from sqlmodel import Session

from api.db import session_scope
from api.services import analyses, audit
from api.services.timeline.csv import cell
from models.analysis import Analysis
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


def _line(values: list[str]) -> str:
    return ",".join(cell(v) for v in values) + "\r\n"


def findings_csv(analysis_id: uuid.UUID, filters: dict) -> Iterator[bytes]:
    """Every finding as a CSV row (UTF-8 with a BOM, for spreadsheets), read a thousand at a time."""
    yield ("\ufeff" + _line(list(CSV_COLUMNS))).encode()
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
            yield _line(row).encode()
