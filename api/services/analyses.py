"""Analyses of a case's record sets, run in the background (job kind "analysis"): the review-for-refund finder.

The job reads the keys of the accounts and messages (the identities: api/records/finder.py), puts the linked ones in
a temporary table, and lets the database join the reviews rated high enough to the payments to their reviewers'
identities around their times: only those pairs, and the messages of those reviewers, come back to Python, where the
finder applies its rules. The findings are stored with the totals the summary reports, in one transaction with the
job's end: a failed or interrupted analysis has no findings.
"""

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import bindparam, func, text
from sqlmodel import Session, col, select

from api.db import bulk_insert, driver_rows, session_scope
from api.errors import UnprocessableEntity
from api.pagination import in_batches, keyset_page, parse_datetime, parse_int, parse_uuid
from api.records import finder as finder_engine
from api.records import load
from api.records.query import citation
from api.services import access, audit, jobs, record_sets
from models.analysis import Analysis, AnalysisCreate, AnalysisPublic, AnalysisStatus, Finding, FindingPublic
from models.case import Case, Role
from models.record_set import RecordRole, RecordSet, RecordSetStatus
from models.user import User

log = logging.getLogger("casebinder.analyses")
INTERRUPTED = "interrupted: the server stopped during the analysis, so it found nothing; run it again"
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
    return in_batches(session, _findings(analysis, **filters), col(Finding.number))


# The job's side (api/worker.py).


def _labels(session: Session, set_ids: list[str]) -> dict[str, str]:
    """Each record set's citation label: its original's exhibit label, or its name."""
    out = {}
    for set_id in set_ids:
        record_set = session.get(RecordSet, uuid.UUID(set_id))
        assert record_set is not None
        out[set_id] = record_sets.citation_label(session, record_set)
    return out


def _keys(sql: "_Sql", set_ids: list[str], columns: tuple[str, ...], *, all_present: bool) -> list[str]:
    """Statements for the distinct combinations of these key columns in the sets (those with every one present, if
    asked): a reviewer writes many messages from one address, and each combination links its keys once."""
    present = "".join(f" AND {column} IS NOT NULL" for column in columns) if all_present else ""
    return [
        f"SELECT DISTINCT {', '.join(columns)} FROM records WHERE {sql.literal('records', s)}{present}" for s in set_ids
    ]


def _explaining_orders(sql: "_Sql", set_ids: list[str]) -> list[str]:
    """Statements for the (buyer, product, status) of the orders returned or cancelled (stored in lower case)."""
    status = sql.field("records", "status")
    return [
        f"SELECT k2, k3, {status} FROM records WHERE {sql.literal('records', s)} AND k2 IS NOT NULL "
        f"AND k3 IS NOT NULL AND {status} IN ('returned', 'cancelled')"
        for s in set_ids
    ]


def _fetched(statements: list[str]) -> list[tuple]:
    """The rows of these statements, read whole in a session of its own: the analysis reads them beside its own
    work (the database answers one while Python links the keys of the one before)."""
    with session_scope() as session:
        _plan_for_everything(session, _Sql(session))
        connection = session.connection()
        return [row for statement in statements for row in driver_rows(connection, statement)]


class _Sql:
    """The pieces of the candidates' statements each database spells its own way."""

    def __init__(self, session: Session):
        self.postgres = session.get_bind().dialect.name == "postgresql"

    def set_id(self, value: str) -> Any:
        return uuid.UUID(value) if self.postgres else uuid.UUID(value).hex

    def literal(self, alias: str, set_id: str) -> str:
        return load.set_clause(uuid.UUID(set_id), "postgresql" if self.postgres else "sqlite", alias)

    def field(self, alias: str, name: str) -> str:
        """A text field of a record's fields (a name of ours)."""
        return f"({alias}.fields->>'{name}')" if self.postgres else f"json_extract({alias}.fields, '$.{name}')"

    def seconds(self, column: str) -> str:
        """A time read for the finder, which works in seconds since the epoch: on PostgreSQL sent as those, not as a
        datetime made per row and turned into them (a third of a million pairs at a million reviews)."""
        return f"extract(epoch FROM {column})::float8" if self.postgres else column

    def fields(self, alias: str) -> str:
        """A record's fields as JSON text, for Python to parse once: each field taken out in SQL parses the whole
        object again (PostgreSQL's json type is kept as text), four times a payment."""
        return f"{alias}.fields::text" if self.postgres else f"{alias}.fields"

    @staticmethod
    def rating(alias: str) -> str:
        """A review's rating: its record's number (models.record_set NUMBER_FIELD)."""
        return f"{alias}.number"

    def window(self, before_days: float, after_days: float) -> str:
        """Payments from `before_days` before the review to `after_days` after it (numbers of ours, as literals)."""
        if self.postgres:
            before, after = float(before_days) * finder_engine.DAY, float(after_days) * finder_engine.DAY
            return f"p.at BETWEEN r.at - make_interval(secs => {before!r}) AND r.at + make_interval(secs => {after!r})"
        before, after = float(before_days), float(after_days)
        return f"p.at >= datetime(r.at, '-{before!r} days') AND p.at <= datetime(r.at, '+{after!r} days')"

    @staticmethod
    def at(value: Any) -> float:
        """A time the join compared, so never null."""
        when = finder_engine.epoch(value)
        assert when is not None
        return when


def _plan_for_everything(session: Session, sql: _Sql) -> None:
    """The analysis's transaction reads every record of its sets once, so on PostgreSQL: plan for all the rows (a
    cursor is planned for its first tenth, by nested loops that start at once), hash joins in memory (at 4 MB a
    million reviews' join spilled to 64 batches on disk), and no JIT compiling (1.3 s of a 5 s join)."""
    if sql.postgres:
        connection = session.connection()
        for setting in ("cursor_tuple_fraction = 1.0", "work_mem = '64MB'", "jit = off"):
            connection.exec_driver_sql(f"SET LOCAL {setting}")


def _scratch_table(session: Session, sql: _Sql, name: str, columns: tuple[str, ...], rows: Iterable[tuple]) -> None:
    """A table of the analysis's own, filled with `rows`.

    On PostgreSQL it is an unlogged table made in the analysis's transaction, not a temporary one: a query that
    reads a temporary table is never run in parallel (its pages are the connection's own), and the candidates' join
    ran three times slower for it. Made in the transaction, it is seen by no one else and goes with it if the
    analysis dies; its text compares as the records' keys it is joined to do (collation "C"). On SQLite it is a
    temporary table."""
    connection = session.connection()
    kind, text = ("UNLOGGED", 'TEXT COLLATE "C"') if sql.postgres else ("TEMPORARY", "TEXT")
    connection.exec_driver_sql(f"CREATE {kind} TABLE {name} ({', '.join(f'{c} {text} NOT NULL' for c in columns)})")
    bulk_insert(connection, name, columns, rows)


def _analyse_table(session: Session, sql: _Sql, name: str) -> None:
    if sql.postgres:  # a table made in this transaction has no statistics yet; on SQLite, ANALYZE of a temporary
        # table would leave a temp.sqlite_stat1 on the pooled connection, hiding the main one from whoever reads it
        session.connection().exec_driver_sql(f"ANALYZE {name}")


def _identity_table(session: Session, engine: finder_engine.Finder, sql: _Sql) -> str:
    """The linked keys and their identities, indexed for the joins on SQLite. PostgreSQL joins a table this large by
    hashing it: at a million reviews its joins ran no slower without the indexes, which took half the table's making
    (0.85 s of 1.55 s)."""
    name = f"cb_identity_{uuid.uuid4().hex[:12]}"
    _scratch_table(session, sql, name, ("kind", "value", "root"), engine.linked())
    if not sql.postgres:
        connection = session.connection()
        connection.exec_driver_sql(f"CREATE INDEX {name}_value ON {name} (value, kind)")
        connection.exec_driver_sql(f"CREATE INDEX {name}_root ON {name} (root, kind)")
    _analyse_table(session, sql, name)
    return name


def _candidates(session: Session, sql: _Sql, table: str, params: dict) -> Iterator[tuple]:
    """(review set, payment set, row) for each review rated high enough and each payment to its reviewer's identity
    from a day more than the window before it to a day more than the window after it (the finder applies the window
    exactly). The sets are named as literals, so each lookup of a payee goes through its payment set's own index.
    The rows stream in as the database joins them: Python makes its pairs of the first while it joins the rest."""
    rating = float(params["min_rating"])
    window = sql.window(params["window_days_before"] + 1, params["window_days_after"] + 1)
    for reviews in params["review_sets"]:
        for payments in params["payment_sets"]:
            statement = (
                f"SELECT r.row, {sql.seconds('r.at')}, r.k2, r.k3, r.k4, {sql.rating('r')}, ir.root, "
                f"p.row, {sql.seconds('p.at')}, p.k1, p.k2, p.k3, {sql.fields('p')} "
                f"FROM records r "
                f"JOIN {table} ir ON ir.value = r.k2 AND ir.kind = 'id' "
                f"JOIN {table} ip ON ip.root = ir.root AND ip.kind = 'em' "
                f"JOIN records p ON {sql.literal('p', payments)} AND p.k2 = ip.value "
                f"WHERE {sql.literal('r', reviews)} AND r.k2 IS NOT NULL AND {sql.rating('r')} >= {rating!r} "
                f"AND {window}"
            )
            # Not through a server-side cursor: PostgreSQL never runs a cursor's query in parallel, and the pairs in
            # the window are few beside the records joined (95,000 of a million reviews and payments).
            for row in driver_rows(session.connection(), statement):
                yield reviews, payments, row


def _messages(session: Session, sql: _Sql, table: str, set_ids: list[str], roots: set[str]) -> Iterator[tuple]:
    """(identity, its ref, message row) for the messages of these identities, by reviewer id or by contact address:
    each message set joined once to the identity table (whose keys are every key of these identities: their reviews
    met their payments through it) and to a table of the identities wanted."""
    wanted = f"{table}_wanted"
    _scratch_table(session, sql, wanted, ("root",), ((root,) for root in roots))
    if not sql.postgres:  # PostgreSQL hashes it, as it does the identity table
        session.connection().exec_driver_sql(f"CREATE INDEX {wanted}_root ON {wanted} (root)")
    _analyse_table(session, sql, wanted)
    seen: set[tuple[str, int]] = set()
    try:
        for kind, column in (("id", "k3"), ("em", "k4")):
            for set_id in set_ids:
                statement = (
                    f"SELECT i.root, m.row, {sql.seconds('m.at')}, m.k5, m.k6, {sql.fields('m')} FROM records m "
                    f"JOIN {table} i ON i.kind = '{kind}' AND i.value = m.{column} "
                    f"JOIN {wanted} w ON w.root = i.root "
                    f"WHERE {sql.literal('m', set_id)} AND m.{column} IS NOT NULL"
                )
                for row in driver_rows(session.connection(), statement):
                    ref = (set_id, row[1])
                    if ref not in seen:
                        seen.add(ref)
                        yield row[0], ref, row[1:]
    finally:
        session.connection().exec_driver_sql(f"DROP TABLE {wanted}")


def execute(analysis_id: uuid.UUID, *, tick: Callable[[], None]) -> None:
    """Run a claimed analysis to its end: done with its findings, or failed with why."""
    with session_scope() as session:
        analysis = session.get(Analysis, analysis_id)
        assert analysis is not None, "a claimed job's row is there"
        params = dict(analysis.params)
        labels = _labels(session, [s for name in ROLES for s in params.get(name, [])])
    engine = finder_engine.Finder(
        finder_engine.Params(params["min_rating"], params["window_days_before"], params["window_days_after"])
    )
    progress = QUEUE.progress(analysis_id)
    read = 0
    current = "accounts"

    def counted(rows: Iterator[Any]) -> Iterator[Any]:
        nonlocal read
        for n, item in enumerate(rows):
            read += 1
            if n % 5000 == 0:
                tick()
                progress(step=current, records_read=read)
            yield item

    seconds: dict[str, float] = {}
    began = time.monotonic()

    def step(name: str) -> None:
        nonlocal current, began
        now = time.monotonic()
        seconds[current] = round(seconds.get(current, 0) + now - began, 3)
        current, began = name, now
        QUEUE.report(analysis_id, step=name, records_read=read)

    epoch = finder_engine.epoch
    # Beside the analysis's own reading, which is mostly Python's, a second session has the database read what is
    # needed next: the message links while the accounts' keys are linked, the orders, and the totals' count.
    with session_scope() as session, ThreadPoolExecutor(1, thread_name_prefix="analysis-beside") as beside:
        sql = _Sql(session)
        message_links = beside.submit(_fetched, _keys(sql, params["message_sets"], ("k3", "k4"), all_present=True))
        orders = beside.submit(_fetched, _explaining_orders(sql, params["order_sets"]))
        high_reviews = beside.submit(_high_reviews, params)
        _plan_for_everything(session, sql)
        step("accounts")
        for statement in _keys(sql, params["account_sets"], ("k1", "k2", "k3", "k4", "k5"), all_present=False):
            for k1, k2, k3, k4, k5 in counted(driver_rows(session.connection(), statement)):
                engine.account(k1, k2, k3, k4, k5)
        step("messages")
        for k3, k4 in counted(iter(message_links.result())):
            engine.message_link(k3, k4)
        step("orders")
        for k2, k3, status in counted(iter(orders.result())):
            engine.order(k2, k3, status)
        step("linked keys")
        table = _identity_table(session, engine, sql)
        try:
            step("reviews and payments")
            pairs = []
            review_key = finder_engine.id_key
            for reviews, payments, row in counted(_candidates(session, sql, table, params)):
                review_row, reviewed, reviewer, product, seller, rating, root = row[:7]
                pay_row, paid, txn, payee, payer, fields = row[7:]
                paid_fields = orjson.loads(fields)
                review = finder_engine.Review(
                    (reviews, review_row), sql.at(reviewed), reviewer, product, seller, float(rating),
                    review_key(reviewer) or "",
                )  # fmt: skip
                payment = finder_engine.Payment(
                    (payments, pay_row), sql.at(paid), payee, payer, str(paid_fields.get("amount")),
                    paid_fields.get("currency"), paid_fields.get("type"), paid_fields.get("memo"), txn,
                )  # fmt: skip
                pairs.append((root, review, payment))
            step("messages of the reviewers")
            roots = {root for root, _, _ in pairs}
            if params["message_sets"] and roots:
                for identity, ref, row in counted(_messages(session, sql, table, params["message_sets"], roots)):
                    said = orjson.loads(row[4])
                    engine.message(identity, ref, epoch(row[1]), row[2], row[3], said.get("text"), said.get("from"))
            step("rules")
            for root, review, payment in pairs:
                engine.consider(root, review, payment)
            step("offers in the messages")
            found_in = engine.found_in()
            if params["message_sets"] and found_in:
                texts: dict[str, dict[tuple[str, int], str | None]] = {identity: {} for identity in found_in}
                for identity, ref, row in counted(_messages(session, sql, table, params["message_sets"], found_in)):
                    texts[identity][ref] = orjson.loads(row[4]).get("text")
                for identity, by_ref in texts.items():
                    engine.offers(identity, by_ref)
        finally:
            session.connection().exec_driver_sql(f"DROP TABLE {table}")
        step("totals")
        _count(session, engine, params, high_reviews.result())
    step("findings")
    results = engine.results()
    members = engine.identities.members({r.identity for r in results})
    step("storing")
    with session_scope() as session:
        findings = [_finding(analysis_id, n, result, members, labels) for n, result in enumerate(results, start=1)]
        session.add_all(findings)
        counts = dict(engine.counts) | {
            "findings": len(findings),
            "identities_with_findings": len(members),
            "seconds": seconds,  # by step: where an analysis spends its time
        }
        totals = _totals(findings, engine, members)
        QUEUE.finish(session, analysis_id, counts=counts, totals=totals, step="done", records_read=read)
    log.info("analysis %s: %d findings from %d records", analysis_id, len(results), read)


def _high_reviews(params: dict) -> list[tuple[str | None, str | None, int]]:
    """(seller, product, count) of the reviews rated high enough (a share's denominator), in a session of its own."""
    with session_scope() as session:
        sql = _Sql(session)
        _plan_for_everything(session, sql)
        statement = text(
            f"SELECT k4, k3, count(*) FROM records r WHERE r.record_set_id IN :sets AND {sql.rating('r')} >= :min "
            "GROUP BY k4, k3"
        ).bindparams(bindparam("sets", expanding=True))
        values = {"sets": [sql.set_id(s) for s in params["review_sets"]], "min": params["min_rating"]}
        return [(seller, product, count) for seller, product, count in session.execute(statement, values)]


def _count(
    session: Session, engine: finder_engine.Finder, params: dict, high_reviews: list[tuple[str | None, str | None, int]]
) -> None:
    """The records read of each role, and the reviews rated high enough by seller and product."""
    for name in ROLES:
        if params.get(name):  # a set the finder reads is done: its rows_done are its records
            sets = [uuid.UUID(s) for s in params[name]]
            stmt = select(func.sum(col(RecordSet.rows_done))).where(col(RecordSet.id).in_(sets))
            engine.counts[f"{name[:-5]}s_read"] = int(session.exec(stmt).one() or 0)
    for seller, product, count in high_reviews:
        engine.high_reviews[(seller, product)] = count
        engine.counts["reviews_considered"] += count


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
