"""Import jobs: an events import too big to answer within one request, run by the server in the background.

The body is staged to a file under the data dir (its size and SHA-256 taken as it arrives), a job row is queued
and the client follows it at GET /imports/{id}. The import runner takes one job at a time and runs the same
two passes as a synchronous import (api/services/timeline_import.py), reporting rows and bytes read as it goes.
All or nothing still: the events, the audit event and the job's success commit in one transaction, so a job
that failed, or was cut short by a server stopping, has stored no event. The staged file goes when the job ends.
"""

import hashlib
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import update
from sqlmodel import Session, col, select

from api.db import session_scope
from api.errors import DomainError
from api.pagination import keyset_page, parse_datetime, parse_uuid
from api.services import access, work_queue
from api.services import timeline_import as import_service
from api.services.timeline import case_evidence_ids
from models.case import Case
from models.common import utcnow
from models.import_job import ImportJob, ImportJobPublic, ImportJobStatus, ImportPhase, ImportProgress
from models.user import User

log = logging.getLogger("casebinder.imports")
INTERRUPTED = "interrupted: the server stopped during the import, so nothing was stored; send the file again"
LOST = "the staged file of this import is missing, so nothing was stored; send the file again"
PROGRESS_SECONDS = 0.5  # at most this often, the job's progress is written while its file is read
READ_CHUNK = 1024 * 1024


class Interrupted(Exception):
    """The server is stopping: the import gives up and is marked failed."""


def staging_dir() -> Path:
    return import_service.scratch_dir()


def staged_path(job_id: uuid.UUID) -> Path:
    return staging_dir() / f"{job_id}.body"


class StagedBody:
    """A body being written to the staging dir under a temporary name, with its size and SHA-256."""

    def __init__(self):
        self.id = uuid.uuid4()
        self.path = staging_dir() / f"{self.id}.part"
        self.file = open(self.path, "wb")  # noqa: SIM115 - closed by finish() or discard()
        self.size = 0
        self.head = b""  # the first bytes, to tell CSV from JSON Lines
        self._hash = hashlib.sha256()

    def write(self, data: bytes) -> None:
        if len(self.head) < 4096:
            self.head += data[: 4096 - len(self.head)]
        self.size += len(data)
        self._hash.update(data)
        self.file.write(data)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def finish(self) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()

    def discard(self) -> None:
        self.file.close()
        self.path.unlink(missing_ok=True)

    def chunks(self) -> Iterator[bytes]:
        with open(self.path, "rb") as f:
            while chunk := f.read(READ_CHUNK):
                yield chunk


def create_job(session: Session, *, case: Case, actor: User, body: StagedBody, fmt: str) -> ImportJob:
    """Queue the staged body as a job; the file is renamed to the job's once the row is committed."""
    job = ImportJob(
        id=body.id, case_id=case.id, format=fmt, size_bytes=body.size, sha256=body.sha256, created_by=actor.id
    )
    session.add(job)
    session.flush()
    body.path.rename(staged_path(job.id))  # before the commit: a job row always has its file until it ends
    return job


def public(job: ImportJob) -> ImportJobPublic:
    return ImportJobPublic(
        id=job.id,
        case_id=job.case_id,
        status=job.status,
        format=job.format,
        size_bytes=job.size_bytes,
        sha256=job.sha256,
        progress=ImportProgress(
            phase=job.phase,
            rows_read=job.rows_read,
            rows_total=job.rows_total,
            bytes_read=job.bytes_read,
            bytes_total=job.size_bytes,
        ),
        imported=job.imported,
        errors=job.errors or [],
        message=job.message,
        created_by=job.created_by,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def get_visible(session: Session, job_id: uuid.UUID, user: User) -> ImportJob:
    """The job if the user is a member of its case (any role); 404 otherwise, as for a missing one."""
    return access.case_object(session, ImportJob, job_id, user, "import")


def list_jobs(session: Session, case: Case, *, limit: int, cursor: str | None):
    return keyset_page(
        session,
        select(ImportJob).where(ImportJob.case_id == case.id),
        kind="imports",
        columns=[ImportJob.created_at, ImportJob.id],
        parsers=[parse_datetime, parse_uuid],
        key=lambda j: (j.created_at, j.id),
        limit=limit,
        cursor=cursor,
    )


# The runner's side (api/worker.py ImportRunner).


def next_queued(session: Session) -> uuid.UUID | None:
    return work_queue.oldest_queued(session, ImportJob, ImportJob.created_at, ImportJob.id)


def claim(session: Session, job_id: uuid.UUID) -> bool:
    return work_queue.claim(session, ImportJob, job_id, phase=ImportPhase.reading, started_at=utcnow())


def _end(job_id: uuid.UUID) -> None:
    staged_path(job_id).unlink(missing_ok=True)


def mark_failed(session: Session, job_id: uuid.UUID, message: str, errors: list[dict] | None = None) -> None:
    """Failed with a reason (and the rows' problems, if that is why); its staged file goes."""
    session.execute(
        update(ImportJob)
        .where(
            col(ImportJob.id) == job_id, col(ImportJob.status).in_([ImportJobStatus.queued, ImportJobStatus.running])
        )
        .values(status=ImportJobStatus.failed, message=message[:2000], errors=errors or [], finished_at=utcnow())
    )
    _end(job_id)


def fail_interrupted(session: Session, *, still_running: Callable[[uuid.UUID], bool]) -> int:
    """Jobs left running by a server that stopped: failed (their transaction never committed, so nothing of
    them is stored). Queued jobs stay queued and run, their files kept; files no job owns any more go."""
    running = session.exec(select(ImportJob.id).where(ImportJob.status == ImportJobStatus.running)).all()
    failed = 0
    for job_id in running:
        if still_running(job_id):
            continue
        failed += session.execute(
            update(ImportJob)
            .where(col(ImportJob.id) == job_id, col(ImportJob.status) == ImportJobStatus.running)
            .values(status=ImportJobStatus.failed, message=INTERRUPTED, finished_at=utcnow())
        ).rowcount
        _end(job_id)
    _sweep(session)
    return failed


def _sweep(session: Session, older_than_seconds: float = 3600) -> None:
    """Files no job needs: bodies whose job has ended, and bodies a stopped server was still receiving."""
    live = set(
        session.exec(
            select(ImportJob.id).where(col(ImportJob.status).in_([ImportJobStatus.queued, ImportJobStatus.running]))
        )
    )
    cutoff = time.time() - older_than_seconds
    for path in staging_dir().iterdir():
        try:
            if path.suffix == ".body" and uuid.UUID(path.stem) not in live and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
            elif path.suffix == ".part" and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
        except (ValueError, OSError):
            continue


def _progress(job_id: uuid.UUID, tick: Callable[[], None]) -> Callable[[int, int], None]:
    last = [0.0]

    def report(rows: int, size: int) -> None:
        tick()
        now = time.monotonic()
        if now - last[0] >= PROGRESS_SECONDS:
            last[0] = now
            with session_scope() as session:
                session.execute(
                    update(ImportJob).where(col(ImportJob.id) == job_id).values(rows_read=rows, bytes_read=size)
                )

    return report


def execute(job_id: uuid.UUID, *, tick: Callable[[], None]) -> None:
    """Run a claimed job. `tick` is called as the work goes on, and raises Interrupted when the server stops.
    A file with bad rows (or of a refused type) fails the job with the problems a 422 would list."""
    with session_scope() as session:
        job = session.get(ImportJob, job_id)
        case, actor = session.get(Case, job.case_id), session.get(User, job.created_by)
        known = case_evidence_ids(session, case)
        postgres = session.get_bind().dialect.name == "postgresql"
    path = staged_path(job_id)
    if not path.exists():
        with session_scope() as session:
            mark_failed(session, job_id, LOST)
        return

    def chunks() -> Iterator[bytes]:
        with open(path, "rb") as f:
            while chunk := f.read(READ_CHUNK):
                yield chunk

    try:
        parsed = import_service.parse(
            chunks(),
            case=case,
            actor_id=actor.id,
            known_evidence=known,
            postgres=postgres,
            fmt=job.format,
            content_type=None,
            progress=_progress(job_id, tick),
        )
    except DomainError as exc:
        detail = exc.message if isinstance(exc.message, dict) else {"message": str(exc.message), "errors": []}
        with session_scope() as session:
            mark_failed(session, job_id, detail["message"], detail.get("errors"))
        return
    try:
        with session_scope() as session:
            session.execute(
                update(ImportJob)
                .where(col(ImportJob.id) == job_id)
                .values(phase=ImportPhase.storing, rows_total=parsed.count, rows_read=parsed.count,
                        bytes_read=job.size_bytes)
            )  # fmt: skip
        with session_scope() as session:
            import_service.store(session, parsed, tick=tick)
            import_service.record_import(
                session, case=case, actor=actor, count=parsed.count, kind=parsed.kind, import_id=str(job_id)
            )
            session.execute(
                update(ImportJob)
                .where(col(ImportJob.id) == job_id)
                .values(status=ImportJobStatus.succeeded, phase=ImportPhase.done, imported=parsed.count,
                        finished_at=utcnow())
            )  # fmt: skip
    finally:
        parsed.spool.close()
    _end(job_id)
    log.info("import %s: %d events into case %s", job_id, parsed.count, case.id)
