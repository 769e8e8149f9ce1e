"""Verify runs: the integrity check queued over HTTP and run by the server in the background, one at a time.

A store of hundreds of GB takes longer to re-hash than any proxy keeps a request open, so the run is a row:
queued by an administrator, claimed by the server's verify runner, and left holding what POST /admin/verify
would have answered (or why it failed), for as long as anyone wants to read it.
"""

import uuid
from collections.abc import Callable

from sqlalchemy import update
from sqlmodel import Session, col, select

from api.errors import NotFound
from api.pagination import keyset_page, parse_datetime, parse_uuid
from api.services import audit, work_queue
from api.services import verify as verify_service
from api.storage import LocalBlobStore
from models.common import utcnow
from models.user import User
from models.verify import VerifyRun, VerifyRunStatus

INTERRUPTED = "interrupted: the server stopped during the run; start a new one"


def create_run(session: Session, *, actor: User, anchors: list[audit.Anchor]) -> VerifyRun:
    """Queue a run; the anchors are kept as "SEQ:SHA256", as verify prints them."""
    run = VerifyRun(requested_by=actor.id, anchors=[a.text() for a in anchors])
    session.add(run)
    session.flush()
    return run


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


def next_queued(session: Session) -> uuid.UUID | None:
    """The oldest queued run (None when nothing waits)."""
    return work_queue.oldest_queued(session, VerifyRun, VerifyRun.requested_at, VerifyRun.id)


def claim(session: Session, run_id: uuid.UUID) -> bool:
    """Mark a queued run running; False when another runner claimed it first."""
    return work_queue.claim(session, VerifyRun, run_id, started_at=utcnow())


def execute(session: Session, store: LocalBlobStore, run_id: uuid.UUID) -> None:
    """Run the check for a claimed run, as its requester, and keep the answer on the run.

    The `verify` audit event and the result commit together, so a run is never done without its event.
    """
    run = session.get(VerifyRun, run_id)
    actor = session.get(User, run.requested_by) if run.requested_by else None
    anchors = [audit.Anchor.parse(text) for text in run.anchors]
    report = verify_service.run(session, store, actor=actor, anchors=anchors)
    run.result = verify_service.as_result(report).model_dump(mode="json")
    run.status, run.finished_at = VerifyRunStatus.done, utcnow()
    session.add(run)


def fail_interrupted(session: Session, *, still_running: Callable[[uuid.UUID], bool]) -> int:
    """Runs left running by a server that stopped mid-run: failed, with a reason.

    `still_running` says whether a live process is running one (another server on the same data dir): those
    are left alone. The update is conditional on `running`, so a run that finishes meanwhile stays done.
    """
    running = session.exec(select(VerifyRun.id).where(VerifyRun.status == VerifyRunStatus.running)).all()
    failed = 0
    for run_id in running:
        if still_running(run_id):
            continue
        failed += session.execute(
            update(VerifyRun)
            .where(col(VerifyRun.id) == run_id, col(VerifyRun.status) == VerifyRunStatus.running)
            .values(status=VerifyRunStatus.failed, finished_at=utcnow(), error=INTERRUPTED)
        ).rowcount
    return failed


def mark_failed(session: Session, run_id: uuid.UUID, message: str) -> None:
    session.execute(
        update(VerifyRun)
        .where(col(VerifyRun.id) == run_id)
        .values(status=VerifyRunStatus.failed, error=message[:2000], finished_at=utcnow())
    )
