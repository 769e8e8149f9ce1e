"""The audit trail: every action recorded, hash-chained, in the same transaction as the change it records.

`record` queues an event on the session; just before the session commits, the queued events are appended
to the chain: the head row is locked first (on PostgreSQL a row lock, on SQLite the single writer lock), so
concurrent transactions queue there and never fork the chain. Appending last, after every other lock the
transaction takes, keeps the lock order the same everywhere. An event marked `durable` (a refusal, a failed
login) is written even when the request's transaction rolls back: in a transaction of its own, after the
rollback.
"""

import hashlib
import json
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from pathlib import Path

from sqlalchemy import event, insert, update
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from models.audit import GENESIS_HASH, AuditEvent, AuditHead
from models.common import is_sha256_hex, utcnow
from models.inputs import SEQ_MAX
from models.user import User

_PENDING = "casebinder.audit.pending"
USER_AGENT_CHARS = 512


@dataclass(frozen=True)
class Origin:
    ip: str | None = None
    user_agent: str | None = None


# Where the current request came from; the CLI and the bundle worker leave it empty.
NO_ORIGIN = Origin()
ORIGIN: ContextVar[Origin] = ContextVar("casebinder_audit_origin", default=NO_ORIGIN)  # noqa: B039 - frozen


class OriginMiddleware:
    """Pure ASGI middleware: note the client address and user agent for the events this request records."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        client = scope.get("client")
        agent = next((v for k, v in scope.get("headers", ()) if k == b"user-agent"), None)
        origin = Origin(
            ip=client[0][:64] if client else None,
            user_agent=agent.decode("latin-1")[:USER_AGENT_CHARS] if agent is not None else None,
        )
        token = ORIGIN.set(origin)
        try:
            await self.app(scope, receive, send)
        finally:
            ORIGIN.reset(token)


def _plain(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Path | date):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"not JSON serialisable in an audit event: {type(value).__name__}")


def jsonable(details: dict | None) -> dict:
    """Details as plain JSON values, exactly as they will read back from the database."""
    return json.loads(json.dumps(details or {}, default=_plain))


def _text(value) -> str | None:
    return None if value is None else str(value)


def at_text(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(row: dict) -> bytes:
    """The event as canonical JSON (sorted keys, no spaces, UTF-8): what its hash covers."""
    doc = {
        "seq": int(row["seq"]),
        "id": str(row["id"]),
        "at": at_text(row["at"]),
        "actor_id": _text(row["actor_id"]),
        "actor_email": row["actor_email"],
        "action": row["action"],
        "case_id": _text(row["case_id"]),
        "evidence_id": _text(row["evidence_id"]),
        "object_type": row["object_type"],
        "object_id": row["object_id"],
        "details": row["details"],
        "ip": row["ip"],
        "user_agent": row["user_agent"],
        "prev_hash": row["prev_hash"],
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, row: dict) -> str:
    """SHA-256 over the previous event's hash and this event's canonical JSON."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(row)).hexdigest()


def changed(obj, changes: dict) -> tuple[dict, dict]:
    """(before, after) of the fields in `changes` whose value differs from `obj`'s: what an update records."""
    before, after = {}, {}
    for name, value in changes.items():
        if getattr(obj, name) != value:
            before[name], after[name] = getattr(obj, name), value
    return jsonable(before), jsonable(after)


def record(
    session: Session,
    action: str,
    *,
    actor: User | None = None,
    actor_email: str | None = None,
    case_id: uuid.UUID | None = None,
    evidence_id: uuid.UUID | None = None,
    object_type: str | None = None,
    object_id=None,
    details: dict | None = None,
    durable: bool = False,
) -> None:
    """Queue an event; it is chained and written when `session` commits, or (durable) even if it rolls back."""
    origin = ORIGIN.get()
    row = {
        "id": uuid.uuid4(),
        "at": utcnow(),
        "actor_id": actor.id if actor is not None else None,
        "actor_email": actor.email if actor is not None else actor_email,
        "action": action,
        "case_id": case_id,
        "evidence_id": evidence_id,
        "object_type": object_type,
        "object_id": _text(object_id),
        "details": jsonable(details),
        "ip": origin.ip,
        "user_agent": origin.user_agent,
    }
    session.info.setdefault(_PENDING, []).append(row)
    if durable:
        from api.db import on_rollback, session_scope

        def write_alone() -> None:
            with session_scope() as own:
                own.info.setdefault(_PENDING, []).append(row)

        on_rollback(session, write_alone)


def record_case(session: Session, action: str, case_id: uuid.UUID, **fields) -> None:
    """Queue an event about a case as a whole: the case is both where it happened and what it is about."""
    record(session, action, case_id=case_id, object_type="case", object_id=case_id, **fields)


def _append_pending(session: OrmSession) -> None:
    rows = session.info.pop(_PENDING, None)
    if not rows:
        return
    conn = session.connection()
    # Lock the head before reading it: the UPDATE takes the row lock (PostgreSQL) or the writer lock (SQLite).
    conn.execute(update(AuditHead).where(col(AuditHead.id) == 1).values(seq=AuditHead.seq))
    seq, prev = conn.execute(select(col(AuditHead.seq), col(AuditHead.hash)).where(col(AuditHead.id) == 1)).one()
    for row in rows:
        seq += 1
        row |= {"seq": seq, "prev_hash": prev}
        row["hash"] = prev = chain_hash(prev, row)
    conn.execute(insert(AuditEvent), rows)
    conn.execute(update(AuditHead).where(col(AuditHead.id) == 1).values(seq=seq, hash=prev))


def _drop_pending(session: OrmSession) -> None:
    session.info.pop(_PENDING, None)  # durable events were handed to on_rollback already


event.listen(OrmSession, "before_commit", _append_pending)
event.listen(OrmSession, "after_rollback", _drop_pending)


@dataclass
class ChainBreak:
    seq: int
    event_id: str | None
    problem: str

    def line(self) -> str:
        return f"BROKEN   audit chain at seq {self.seq} (event {self.event_id or '-'}): {self.problem}"


@dataclass
class ChainReport:
    events: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    first_break: ChainBreak | None = None


@dataclass(frozen=True)
class Anchor:
    """An event's place and hash in the chain, kept outside the database (a printed report, a filing, a ticket).

    The hash of an event commits to every event before it, so a later check that event `seq` still has this
    hash, with the chain intact, proves that nothing up to it was changed, removed or rewritten since; even by
    someone who could write to the database and recompute every hash after their edit.
    """

    seq: int
    hash: str

    @classmethod
    def parse(cls, text: str) -> "Anchor":
        """From "SEQ:SHA256", as verify and the custody report print it."""
        seq, sep, digest = text.strip().partition(":")
        digest = digest.lower()
        if (
            not sep
            or not (seq.isascii() and seq.isdigit())
            or not 1 <= int(seq) <= SEQ_MAX
            or not is_sha256_hex(digest)
        ):
            raise ValueError(f"an anchor is SEQ:SHA256 as verify prints it, e.g. 42:{'0' * 64}; not {text[:90]!r}")
        return cls(int(seq), digest)

    def text(self) -> str:
        return f"{self.seq}:{self.hash}"


def head(session: Session) -> Anchor:
    """The newest event's place and hash (seq 0 and the genesis hash before the first event)."""
    row = session.get(AuditHead, 1)
    return Anchor(row.seq, row.hash) if row is not None else Anchor(0, GENESIS_HASH)


def check_anchors(session: Session, anchors: list[Anchor]) -> list[ChainBreak]:
    """Each anchor whose event is gone or no longer has the anchored hash."""
    breaks = []
    for anchor in sorted(set(anchors), key=lambda a: a.seq):
        found = session.exec(
            select(col(AuditEvent.id), col(AuditEvent.hash)).where(col(AuditEvent.seq) == anchor.seq)
        ).first()
        if found is None:
            last = head(session).seq
            problem = f"anchored at {anchor.text()}, but the trail has no event {anchor.seq} (it ends at {last})"
            event_id = None
        else:
            found_id, found_hash = found
            if found_hash == anchor.hash:
                continue
            problem = (
                f"anchored at {anchor.text()}, but the event now has hash {found_hash}: the trail was changed or "
                f"rewritten at or before seq {anchor.seq}"
            )
            event_id = str(found_id)
        breaks.append(ChainBreak(anchor.seq, event_id, problem))
    return breaks


_COLUMNS = list(AuditEvent.metadata.tables[AuditEvent.__tablename__].columns)
CHAIN_BATCH = 2000


def _rows(session: Session) -> Iterator[dict]:
    """Every event in seq order, a batch at a time (keyset on seq)."""
    after = None
    while True:
        stmt = select(*_COLUMNS).order_by(col(AuditEvent.seq)).limit(CHAIN_BATCH)
        if after is not None:
            stmt = stmt.where(AuditEvent.seq > after)
        batch = session.connection().execute(stmt).mappings().all()
        yield from (dict(row) for row in batch)
        if len(batch) < CHAIN_BATCH:
            return
        after = batch[-1]["seq"]


def walk_chain(session: Session) -> ChainReport:
    """Recompute every link of the chain; report the first that does not hold, and a head that disagrees."""
    report = ChainReport()
    head_row = session.get(AuditHead, 1)
    report.head_seq = head_row.seq if head_row else 0
    expected_seq, prev = 1, GENESIS_HASH
    for row in _rows(session):
        report.events += 1
        if report.first_break is not None:
            continue
        problem = None
        if row["seq"] != expected_seq:
            missing = f"{expected_seq}..{row['seq'] - 1}"
            problem = f"expected seq {expected_seq} next, found {row['seq']}: events {missing} are missing"
        elif row["prev_hash"] != prev:
            problem = f"prev_hash is {row['prev_hash']}, but the event before it has hash {prev} (removed or reordered)"
        else:
            actual = chain_hash(prev, row)
            if actual != row["hash"]:
                problem = f"its content hashes to {actual}, not the stored {row['hash']}: the row was changed"
        if problem:
            report.first_break = ChainBreak(row["seq"], str(row["id"]), problem)
        expected_seq, prev = row["seq"] + 1, row["hash"]
    report.head_hash = head_row.hash if head_row else GENESIS_HASH
    if (
        report.first_break is None
        and head_row is not None
        and (head_row.seq != expected_seq - 1 or head_row.hash != prev)
    ):
        report.first_break = ChainBreak(
            head_row.seq,
            None,
            f"the head says seq {head_row.seq} with hash {head_row.hash}, but the last event is seq {expected_seq - 1} "
            f"with hash {prev}: events were removed from the end",
        )
    return report
