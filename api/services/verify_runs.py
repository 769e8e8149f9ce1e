"""Verify runs: the integrity check queued over HTTP and run by the server in the background, one at a time.

A store of hundreds of GB takes longer to re-hash than any proxy keeps a request open, so the run is a row:
queued by an administrator, claimed by the server's verify runner, and left holding what POST /admin/verify
would have answered (or why it failed), for as long as anyone wants to read it.
"""

import uuid

from sqlmodel import Session, col, select

from api.errors import NotFound
from api.pagination import keyset_page, parse_datetime, parse_uuid
from api.services import audit, jobs
from api.services import verify as verify_service
from api.storage import BlobStore
from models.user import User
from models.verify import VerifyRun, VerifyRunStatus

INTERRUPTED = "interrupted: the server stopped during the run; start a new one"
QUEUE = jobs.Queue(
    "verify", VerifyRun, VerifyRunStatus, order=(VerifyRun.requested_at, VerifyRun.id), interrupted=INTERRUPTED
)


def create_run(session: Session, *, actor: User, anchors: list[audit.Anchor]) -> VerifyRun:
    """Queue a run; the anchors are kept as "SEQ:SHA256", as verify prints them."""
    return QUEUE.queue(session, VerifyRun(requested_by=actor.id, anchors=[a.text() for a in anchors]))


def _with_requester():
    return select(VerifyRun, User.email).outerjoin(User, col(User.id) == VerifyRun.requested_by)


def get_run(session: Session, run_id: uuid.UUID) -> tuple[VerifyRun, str | None]:
    """The run and the e-mail of the administrator who asked for it."""
    row = session.exec(_with_requester().where(VerifyRun.id == run_id)).first()
    if row is None:
        raise NotFound("verify run not found")
    return row


def list_runs(session: Session, *, limit: int, cursor: str | None):
    """Newest first, each with its requester's e-mail: the latest run is the one an administrator looks for."""
    return keyset_page(
        session,
        _with_requester(),
        kind="verify-runs",
        columns=[VerifyRun.requested_at, VerifyRun.id],
        parsers=[parse_datetime, parse_uuid],
        key=lambda row: (row[0].requested_at, row[0].id),
        limit=limit,
        cursor=cursor,
        descending=True,
    )


def execute(session: Session, store: BlobStore, run_id: uuid.UUID) -> None:
    """Run the check for a claimed run, as its requester, and keep the answer on the run.

    The `verify` audit event and the result commit together, so a run is never done without its event.
    """
    run = session.get(VerifyRun, run_id)
    assert run is not None  # claimed by this runner, so the row is there
    actor = session.get(User, run.requested_by) if run.requested_by else None
    anchors = [audit.Anchor.parse(text) for text in run.anchors]
    report = verify_service.run(session, store, actor=actor, anchors=anchors)
    QUEUE.finish(session, run_id, result=verify_service.as_result(report).model_dump(mode="json"))
