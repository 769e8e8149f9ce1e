"""Analyses of a case's record sets, run in the background (job kind "analysis"): the review-for-refund finder.

The job reads the record sets a role at a time, straight from the key columns and the few fields it needs (never
whole records), feeds them to the finder (api/records/finder.py), and stores the findings with the totals the
summary reports, in one transaction with the job's end: a failed or interrupted analysis has no findings.
"""

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from sqlalchemy import String, cast
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from api.db import session_scope
from api.errors import UnprocessableEntity
from api.pagination import keyset_page, parse_datetime, parse_int, parse_uuid
from api.records import finder as finder_engine
from api.records.query import citation
from api.services import access, audit, jobs
from models.analysis import Analysis, AnalysisCreate, AnalysisPublic, AnalysisStatus, Finding, FindingPublic
from models.case import Case, Role
from models.exhibit import Exhibit
from models.record_set import Record, RecordRole, RecordSet, RecordSetStatus
from models.user import User

log = logging.getLogger("casebinder.analyses")
INTERRUPTED = "interrupted: the server stopped during the analysis, so it found nothing; run it again"
READ_BATCH = 10_000
TOTALS_KEPT = 500  # sellers and products listed in the totals, most findings first
CLUSTERS_KEPT = 10
ROLES = {
    "review_sets": RecordRole.reviews,
    "payment_sets": RecordRole.payments,
    "message_sets": RecordRole.messages,
    "account_sets": RecordRole.accounts,
    "order_sets": RecordRole.orders,
}


class Interrupted(Exception):
    pass


QUEUE = jobs.Queue(
    "analysis",
    Analysis,
    AnalysisStatus,
    order=(Analysis.created_at, Analysis.id),
    interrupted=INTERRUPTED,
    reason="message",
)


def create(session: Session, *, case: Case, actor: User, data: AnalysisCreate) -> Analysis:
    """Queue an analysis of record sets of this case, each of the role it is given as, and imported."""
    for name, role in ROLES.items():
        for set_id in getattr(data, name):
            found = session.get(RecordSet, set_id)
            if found is None or found.case_id != case.id:
                raise UnprocessableEntity(f"{name}: record set {set_id} is not in this case")
            if found.role != role:
                raise UnprocessableEntity(f"{name}: record set {set_id} holds {found.role}, not {role}")
            if found.status != RecordSetStatus.done:
                raise UnprocessableEntity(f"{name}: record set {set_id} is {found.status}: analyse it once imported")
    params = data.model_dump(mode="json", exclude={"type"})
    analysis = Analysis(case_id=case.id, type=data.type, params=params, created_by=actor.id)
    QUEUE.queue(session, analysis)
    audit.record_case(
        session, "analysis.create", case.id, actor=actor, details={"analysis_id": str(analysis.id)} | params
    )
    return analysis


def get_visible(session: Session, analysis_id: uuid.UUID, user: User, role: Role = Role.viewer) -> Analysis:
    """The analysis if the user holds at least `role` in its case (404 for a non-member, as for a missing one)."""
    return access.case_object(session, Analysis, analysis_id, user, "analysis", role)


def public(analysis: Analysis) -> AnalysisPublic:
    return AnalysisPublic(
        id=analysis.id,
        case_id=analysis.case_id,
        type=analysis.type,
        params=analysis.params,
        status=analysis.status,
        progress={"step": analysis.step, "records_read": analysis.records_read},
        counts=analysis.counts,
        message=analysis.message,
        created_by=analysis.created_by,
        created_at=analysis.created_at,
        started_at=analysis.started_at,
        finished_at=analysis.finished_at,
    )


def list_analyses(session: Session, case: Case, *, limit: int, cursor: str | None):
    return keyset_page(
        session,
        select(Analysis).where(col(Analysis.case_id) == case.id),
        kind="analyses",
        columns=[Analysis.created_at, Analysis.id],
        parsers=[parse_datetime, parse_uuid],
        key=lambda a: (a.created_at, a.id),
        limit=limit,
        cursor=cursor,
    )


def finding_id(number: int) -> str:
    return f"F-{number:06d}"


def finding_public(finding: Finding) -> FindingPublic:
    return FindingPublic(
        finding_id=finding_id(finding.number),
        reviewer=finding.reviewer,
        review=finding.review,
        payments=finding.payments,
        messages=finding.messages,
        seller=finding.seller,
        product_id=finding.product_id,
        amount=finding.amount,
        currency=finding.currency,
        days=finding.days,
        score=finding.score,
        reasons=finding.reasons,
    )


def _findings(analysis: Analysis, *, seller: str | None, product: str | None, min_score: float | None):
    stmt = select(Finding).where(col(Finding.analysis_id) == analysis.id)
    if seller is not None:
        stmt = stmt.where(col(Finding.seller) == seller)
    if product is not None:
        stmt = stmt.where(col(Finding.product_id) == product)
    if min_score is not None:
        stmt = stmt.where(col(Finding.score) >= min_score)
    return stmt


def findings_page(session: Session, analysis: Analysis, *, limit: int, cursor: str | None, **filters):
    return keyset_page(
        session,
        _findings(analysis, **filters),
        kind="findings",
        columns=[Finding.number],
        parsers=[parse_int],
        key=lambda f: (f.number,),
        limit=limit,
        cursor=cursor,
    )


def every_finding(session: Session, analysis: Analysis, **filters) -> Iterator[Finding]:
    after = 0
    while True:
        batch = list(
            session.scalars(
                _findings(analysis, **filters).where(col(Finding.number) > after).order_by(Finding.number).limit(1000)
            )
        )
        yield from batch
        if len(batch) < 1000:
            return
        after = batch[-1].number


# The job's side (api/worker.py).


def _labels(session: Session, case_id: uuid.UUID, set_ids: list[str]) -> dict[str, str]:
    """Each record set's citation label: its original's exhibit label, or its name."""
    out = {}
    for set_id in set_ids:
        record_set = session.get(RecordSet, uuid.UUID(set_id))
        assert record_set is not None
        label = session.scalar(
            sa_select(col(Exhibit.label)).where(
                col(Exhibit.case_id) == case_id, col(Exhibit.evidence_id) == record_set.evidence_id
            )
        )
        out[set_id] = label or record_set.name
    return out


def _rows(session: Session, set_ids: list[str], columns: list, batch: int = READ_BATCH) -> Iterator[Any]:
    for set_id in set_ids:
        stmt = sa_select(col(Record.row), *columns).where(col(Record.record_set_id) == uuid.UUID(set_id))
        result = session.execute(stmt.execution_options(yield_per=batch, stream_results=True))
        for row in result:
            yield set_id, row
        result.close()


def _field(name: str):
    return cast(col(Record.fields)[name].as_string(), String)


def execute(analysis_id: uuid.UUID, *, tick: Callable[[], None]) -> None:
    """Run a claimed analysis to its end: done with its findings, or failed with why."""
    with session_scope() as session:
        analysis = session.get(Analysis, analysis_id)
        assert analysis is not None, "a claimed job's row is there"
        params, case_id = dict(analysis.params), analysis.case_id
        labels = _labels(session, case_id, [s for name in ROLES for s in params.get(name, [])])
    engine = finder_engine.Finder(
        finder_engine.Params(params["min_rating"], params["window_days_before"], params["window_days_after"])
    )
    progress = QUEUE.progress(analysis_id)
    read = 0

    def step(name: str) -> None:
        QUEUE.report(analysis_id, step=name, records_read=read)

    def counted(rows: Iterator[Any]) -> Iterator[Any]:
        nonlocal read
        for n, item in enumerate(rows):
            read += 1
            if n % 5000 == 0:
                tick()
                progress(step=current, records_read=read)
            yield item

    epoch, number = finder_engine.epoch, finder_engine.number
    with session_scope() as session:
        current = "accounts"
        step(current)
        for _, (_, k1, k2, k3, k4, k5) in counted(
            _rows(session, params["account_sets"], [Record.k1, Record.k2, Record.k3, Record.k4, Record.k5])
        ):
            engine.account(k1, k2, k3, k4, k5)
        current = "messages"
        step(current)
        for set_id, (row, at, k3, k4, k5, k6, text, sender) in counted(
            _rows(
                session,
                params["message_sets"],
                [Record.at, Record.k3, Record.k4, Record.k5, Record.k6, _field("text"), _field("from")],
            )  # fmt: skip
        ):
            engine.message((set_id, row), epoch(at), k3, k4, k5, k6, text, sender)
        current = "orders"
        step(current)
        for _, (_, k2, k3, status) in counted(
            _rows(session, params["order_sets"], [Record.k2, Record.k3, _field("status")])
        ):
            engine.order(k2, k3, status)
        current = "reviews"
        step(current)
        for set_id, (row, at, k2, k3, k4, rating) in counted(
            _rows(session, params["review_sets"], [Record.at, Record.k2, Record.k3, Record.k4, _field("rating")])
        ):
            engine.review((set_id, row), epoch(at), k2, k3, k4, number(rating))
        current = "payments"
        step(current)
        payment_columns = [Record.at, Record.k1, Record.k2, Record.k3, _field("amount"), _field("currency"),
                           _field("type"), _field("memo")]  # fmt: skip
        for set_id, (row, at, k1, k2, k3, amount, currency, kind, memo) in counted(
            _rows(session, params["payment_sets"], payment_columns)
        ):
            when = epoch(at)
            if when is None or k2 is None or amount is None:
                continue
            engine.payment(finder_engine.Payment((set_id, row), when, k2, k3, amount, currency, kind, memo, k1))
    if engine._by_identity is None:
        engine._index()
    current = "findings"
    step(current)
    results = engine.results()
    members = engine.identities.members({r.identity for r in results})
    with session_scope() as session:
        findings = [_finding(analysis_id, n, result, members, labels) for n, result in enumerate(results, start=1)]
        session.add_all(findings)
        counts = dict(engine.counts) | {"findings": len(findings), "identities_with_findings": len(members)}
        totals = _totals(findings, engine, members)
        QUEUE.finish(session, analysis_id, counts=counts, totals=totals, step="done", records_read=read)
    log.info("analysis %s: %d findings from %d records", analysis_id, len(results), read)


def _ref(labels: dict[str, str], ref: tuple[str, int]) -> dict[str, Any]:
    return {"record_set_id": ref[0], "row": ref[1], "citation": citation(labels[ref[0]], ref[1])}


def _iso(at: float | None) -> str | None:
    from datetime import UTC, datetime

    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


def _finding(analysis_id, number: int, result, members: dict[str, list[str]], labels) -> Finding:
    from datetime import UTC, datetime

    review, first = result.review, result.payments[0]
    return Finding(
        analysis_id=analysis_id,
        number=number,
        seller=review.seller,
        product_id=review.product_id,
        score=result.score,
        amount=result.amount,
        currency=first.currency,
        days=result.days,
        reviewed_at=datetime.fromtimestamp(review.at, UTC),
        paid_at=datetime.fromtimestamp(first.at, UTC),
        reviewer={
            "reviewer_id": review.reviewer_id,
            "identity": result.identity,
            "keys": members.get(result.identity, [result.identity])[:50],
        },  # fmt: skip
        review=_ref(labels, review.ref)
        | {
            "rating": review.rating,
            "product_id": review.product_id,
            "seller": review.seller,
            "reviewed_at": _iso(review.at),
        },  # fmt: skip
        payments=[
            _ref(labels, p.ref)
            | {
                "txn_id": p.txn_id,
                "amount": p.amount,
                "currency": p.currency,
                "type": p.type,
                "paid_at": _iso(p.at),
                "payer": p.payer,
                "payee_email": p.payee_email,
            }  # fmt: skip
            for p in result.payments
        ],
        messages=[_ref(labels, m.ref) | {"sent_at": _iso(m.at), "offer": m.offer} for m in result.messages],
        reasons=result.reasons,
    )


def _totals(findings: list[Finding], engine, members: dict[str, list[str]]) -> dict[str, Any]:
    """Per seller and per product: findings, money paid (by currency), reviews rated high enough, and the share of
    those that were paid for; findings per month; the largest reviewer identities among the findings."""

    def blank():
        return {"findings": 0, "paid": defaultdict(Decimal), "high_reviews": 0, "numbers": []}

    sellers: dict[str, dict] = defaultdict(blank)
    products: dict[str, dict] = defaultdict(blank)
    months: dict[str, int] = defaultdict(int)
    for finding in findings:
        for bucket in (
            sellers[finding.seller or ""],
            products[f"{finding.seller or ''}\x1f{finding.product_id or ''}"],
        ):
            bucket["findings"] += 1
            bucket["paid"][finding.currency or ""] += Decimal(finding.amount)
            bucket["numbers"].append(finding.number)
        months[finding.reviewed_at.strftime("%Y-%m")] += 1
    for (seller, product), count in engine.high_reviews.items():
        if (seller or "") in sellers:
            sellers[seller or ""]["high_reviews"] += count
        key = f"{seller or ''}\x1f{product or ''}"
        if key in products:
            products[key]["high_reviews"] += count

    def shown(buckets: dict[str, dict], split: bool) -> list[dict]:
        out = []
        for key, b in sorted(buckets.items(), key=lambda kv: (-kv[1]["findings"], kv[0]))[:TOTALS_KEPT]:
            entry = {
                "findings": b["findings"],
                "high_reviews": b["high_reviews"],
                "share": round(b["findings"] / b["high_reviews"], 4) if b["high_reviews"] else None,
                "paid": {c: str(v) for c, v in sorted(b["paid"].items())},
                "finding_numbers": b["numbers"][:2000],
            }
            if split:
                seller, product = key.split("\x1f")
                entry |= {"seller": seller or None, "product_id": product or None}
            else:
                entry["seller"] = key or None
            out.append(entry)
        return out

    by_identity: dict[str, list[int]] = defaultdict(list)
    for finding in findings:
        by_identity[finding.reviewer["identity"]].append(finding.number)
    clusters = sorted(by_identity.items(), key=lambda kv: (-len(members.get(kv[0], [])), -len(kv[1]), kv[0]))
    return {
        "sellers": shown(sellers, False),
        "products": shown(products, True),
        "months": dict(sorted(months.items())),
        "clusters": [
            {
                "identity": identity,
                "keys": members.get(identity, [identity])[:20],
                "key_count": len(members.get(identity, [identity])),
                "finding_numbers": numbers[:200],
            }  # fmt: skip
            for identity, numbers in clusters[:CLUSTERS_KEPT]
        ],
    }
