"""Background jobs: bundle builds, verify runs and event imports (and every later kind) are rows that a request
queues and a runner takes, one at a time, oldest first (api/runners.py). Queueing hands the job over
(api/jobqueue/handoff.py): to the runner threads of the server, or to the PostgreSQL queue's workers.

They share one lifecycle (models/job.py) and one way through it, here: queue, claim, report progress, finish,
fail, and recover what a stopped server left running. Each kind describes its table with a `Queue` and adds only
what is its own: how a failure ends it when that is more than a reason (a bundle goes back to its earlier build),
what else goes with a job that ends (an import's staged file), what its progress is.

Every step is one conditional update, so two runners never claim the same job, and of a finish, a cancel and a
failure racing for the same job, the first to land is the one kept.
"""

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import update
from sqlmodel import Session, select

from api.db import rowcount, session_scope
from api.jobqueue import handoff
from models.common import utcnow
from models.job import ACTIVE, FAILED, QUEUED, RUNNING, JobStatus

PROGRESS_SECONDS = 0.5  # at most this often, a running job's progress is written
REASON_CHARS = 2000  # a failure's reason is kept to this many characters

Job = TypeVar("Job")
# (session, job id, reason) -> whether the job was failed; False when it had ended already.
Failing = Callable[[Session, uuid.UUID, str], bool]


@dataclass(frozen=True)
class Queue:
    """One kind of job: its table and the few things it does its own way."""

    kind: str  # "bundle": names its queue, its runner and its jobs' leases
    model: Any  # the table: id, status, started_at, finished_at and the `reason` column
    status: type[JobStatus]  # the kind's status enum
    order: tuple  # the columns that put queued jobs oldest first
    interrupted: str  # the reason given to a job that a server stopped during
    reason: str = "error"  # the column a failure's reason goes in
    claimed: dict[str, Any] = field(default_factory=dict)  # more values set as a job is claimed
    failing: Failing | None = None  # how a job of this kind fails, if not by `fail` alone
    # What else goes once a job has failed (a staged body, say), given the session that failed it.
    ended: Callable[[Session, uuid.UUID], None] | None = None
    recovered: Callable[[Session], None] | None = None  # tidying once interrupted jobs are failed
    # A column whose jobs run one at a time in the queue's workers ("case_id": one build of a case at a time);
    # None: only the same job is never run twice at once.
    serial_by: str | None = None

    def queue(self, session: Session, job: Job) -> Job:
        """Queue a new job, or one again (a rebuild): queued and not started, for a runner to claim."""
        job.status, job.started_at = self.status(QUEUED), None  # type: ignore[attr-defined]
        session.add(job)
        session.flush()
        self.hand_over(session, job)
        return job

    def lock_for(self, job: Any) -> str:
        """The queue's lock for a job: the jobs with the same one run one at a time."""
        return f"{self.kind}-{getattr(job, self.serial_by) if self.serial_by else job.id}"

    def hand_over(self, session: Session, job: Any) -> None:
        """Hand a job just queued to whatever runs jobs (api/jobqueue/handoff.py)."""
        handoff.hand_over(session, self.kind, job.id, self.lock_for(job))

    def requeue_abandoned(self, session: Session, job_id: uuid.UUID) -> bool:
        """Queue again a job left running by a process that died (its lease is free): False when it is no longer
        running. Only the queue's workers do this: their jobs are retried, not failed, when a worker dies."""
        stmt = (
            update(self.model)
            .where(self.model.id == job_id, self.model.status == RUNNING)
            .values(status=QUEUED, started_at=None)
        )
        return bool(rowcount(session.execute(stmt)))

    def next_queued(self, session: Session) -> uuid.UUID | None:
        """The id of the oldest queued job (None when nothing waits)."""
        return session.exec(select(self.model.id).where(self.model.status == QUEUED).order_by(*self.order)).first()

    def claim(self, session: Session, job_id: uuid.UUID) -> bool:
        """Mark a queued job running; False when another runner claimed it first."""
        stmt = (
            update(self.model)
            .where(self.model.id == job_id, self.model.status == QUEUED)
            .values(status=RUNNING, started_at=utcnow(), **self.claimed)
        )
        return bool(rowcount(session.execute(stmt)))

    def status_of(self, session: Session, job_id: uuid.UUID) -> JobStatus | None:
        status = session.exec(select(self.model.status).where(self.model.id == job_id)).first()
        return None if status is None else self.status(status)

    def report(self, job_id: uuid.UUID, **values: Any) -> None:
        """Write a running job's progress columns now, in a transaction of their own: whoever follows the job sees
        it move while its own work holds a transaction open, or none."""
        with session_scope() as session:
            session.execute(update(self.model).where(self.model.id == job_id).values(**values))

    def progress(self, job_id: uuid.UUID) -> Callable[..., None]:
        """A progress writer for work that reports often: `write(final=False, **columns)` reports at most every
        PROGRESS_SECONDS, and a final report always."""
        last = 0.0

        def write(*, final: bool = False, **values: Any) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last < PROGRESS_SECONDS and not final:
                return
            last = now
            self.report(job_id, **values)

        return write

    def finish(self, session: Session, job_id: uuid.UUID, **values: Any) -> bool:
        """Mark a running job as having done its work, finished now, with `values`; False, with nothing written, when
        it is no longer running (cancelled or failed meanwhile). The row stays locked until the caller commits."""
        stmt = (
            update(self.model)
            .where(self.model.id == job_id, self.model.status == RUNNING)
            .values({"status": self.status.success(), "finished_at": utcnow()} | values)
        )
        return bool(rowcount(session.execute(stmt)))

    def fail(
        self, session: Session, job_id: uuid.UUID, message: str, *, was: tuple[str, ...] = ACTIVE, **values: Any
    ) -> bool:
        """Fail a job still in one of `was`, with the reason; False, with nothing written, when it has moved on (a
        job that ended keeps the outcome it was given first). What else goes with it (`ended`) goes either way."""
        stmt = (
            update(self.model)
            .where(self.model.id == job_id, self.model.status.in_(was))
            .values(status=FAILED, finished_at=utcnow(), **{self.reason: message[:REASON_CHARS]}, **values)
        )
        failed = bool(rowcount(session.execute(stmt)))
        if self.ended is not None:
            self.ended(session, job_id)
        return failed

    def mark_failed(self, session: Session, job_id: uuid.UUID, message: str) -> bool:
        """Fail a job the way its kind fails (see `failing`)."""
        return (self.failing or self.fail)(session, job_id, message)

    def fail_interrupted(self, session: Session, still_running: Callable[[uuid.UUID], bool]) -> int:
        """Fail the jobs left running by a server that stopped during them, with the `interrupted` reason; returns
        how many. `still_running` says whether a live process is running one (another server on the same data
        dir): those are left alone. Failing is conditional, so a job that ends meanwhile keeps its outcome."""
        running = session.exec(select(self.model.id).where(self.model.status == RUNNING)).all()
        failed = sum(
            self.mark_failed(session, job_id, self.interrupted) for job_id in running if not still_running(job_id)
        )
        if self.recovered is not None:
            self.recovered(session)
        return failed
