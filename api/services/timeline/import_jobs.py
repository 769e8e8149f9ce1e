"""Import jobs: an events import too big to answer within one request, run by the server in the background.

The body is staged in the blob store (its size and SHA-256 taken as it arrives), a job row is queued
and the client follows it at GET /imports/{id}. The import runner takes one job at a time and runs the same
two passes as a synchronous import (api/services/timeline/importer.py), reporting rows and bytes read as it goes.
All or nothing still: the events, the audit event and the job's success commit in one transaction, so a job
that failed, or was cut short by a server stopping, has stored no event. The staged body goes when the job ends;
being in the blob store, not on one host's disk, it is read by whichever process runs the job.
"""

import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
from sqlmodel import Session, col, select

from api.db import on_commit, session_scope
from api.errors import DomainError, PayloadTooLarge
from api.pagination import keyset_page, parse_datetime, parse_uuid
from api.services import access, blobs, jobs
from api.services.timeline import importer as import_service
from api.services.timeline.events import case_evidence_ids
from api.storage import StagedBlob, full_disk_refused
from models.case import Case
from models.import_job import (
    ImportJob,
    ImportJobPublic,
    ImportJobStatus,
    ImportPhase,
    ImportProgress,
    ImportRowError,
)
from models.job import ACTIVE
from models.user import User

log = logging.getLogger("casebinder.imports")
INTERRUPTED = "interrupted: the server stopped during the import, so nothing was stored; send the file again"
LOST = "the staged file of this import is missing, so nothing was stored; send the file again"
READ_CHUNK = 1024 * 1024
STAGE_WRITE_BYTES = 1024 * 1024  # a staged body is written in blocks of about this size


class Interrupted(Exception):
    """The server is stopping: the import gives up and is marked failed."""


def staging_dir() -> Path:
    """Where an earlier version kept staged bodies (they are in the blob store now); its spools stay there too."""
    return import_service.scratch_dir()


class StagedBody:
    """A body being written to the blob store's staging area, with its size and SHA-256. A queued job's body is
    put in the store (`create_job`), where a worker on any host reads it; it goes once the job has ended."""

    def __init__(self):
        self.id = uuid.uuid4()
        self._writer = blobs.served_store().writer()
        self.staged: StagedBlob | None = None
        self.size = 0
        self.head = b""  # the first bytes, to tell CSV from JSON Lines

    def write(self, data: bytes) -> None:
        if len(self.head) < 4096:
            self.head += data[: 4096 - len(self.head)]
        self.size += len(data)
        self._writer.write(data)

    @property
    def sha256(self) -> str:
        assert self.staged is not None, "finished first"
        return self.staged.sha256

    def finish(self) -> None:
        self.staged = self._writer.finish()

    def discard(self) -> None:
        """Throw the staged bytes away, unless a job took them into the store."""
        if self.staged is None:
            self._writer.abort()
        else:
            self.staged.discard()

    def chunks(self) -> Iterator[bytes]:
        assert self.staged is not None, "finished first"
        with self.staged.open() as f:
            while chunk := f.read(READ_CHUNK):
                yield chunk


async def stage(stream: AsyncIterator[bytes]) -> StagedBody:
    """A body as it arrives, written to a staged file off the event loop; 413 past the import limit (judged as
    it comes, so nothing past it is kept), 507 when the disk fills up, and nothing left behind on failure."""
    body = await anyio.to_thread.run_sync(StagedBody)
    try:
        pending, buffered = [], 0
        with full_disk_refused("the import"):
            async for chunk in stream:
                if body.size + buffered + len(chunk) > import_service.MAX_IMPORT_BYTES:
                    raise PayloadTooLarge(import_service.TOO_LARGE)
                pending.append(chunk)
                buffered += len(chunk)
                if buffered >= STAGE_WRITE_BYTES:
                    await anyio.to_thread.run_sync(body.write, b"".join(pending))
                    pending, buffered = [], 0
            if pending:
                await anyio.to_thread.run_sync(body.write, b"".join(pending))
            await anyio.to_thread.run_sync(body.finish)
    except BaseException:
        body.discard()
        raise
    return body


def create_job(session: Session, *, case: Case, actor: User, body: StagedBody, fmt: str) -> ImportJob:
    """Queue the staged body as a job, its bytes put in the blob store with the row (a row always has its body
    until it ends: see `blobs.still_used`)."""
    assert body.staged is not None, "finished first"
    job = ImportJob(
        id=body.id, case_id=case.id, format=fmt, size_bytes=body.size, sha256=body.sha256, created_by=actor.id
    )
    QUEUE.queue(session, job)
    blobs.commit_with(session, blobs.served_store(), body.staged)
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
        errors=[ImportRowError.model_validate(e) for e in job.errors or []],
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


# The runner's side (api/worker.py).


def _end(session: Session, job_id: uuid.UUID) -> None:
    """Once the transaction that ended the job commits, its body leaves the store (unless something else uses
    the same bytes: an identical body of a job still queued, an evidence item)."""
    sha256 = session.exec(select(ImportJob.sha256).where(ImportJob.id == job_id)).first()
    if sha256 is not None:
        bind, store = session.get_bind(), blobs.served_store()
        on_commit(session, lambda: blobs.remove(store, sha256, bind))


def _sweep(session: Session, older_than_seconds: float = 3600) -> None:
    """Files no job needs in the imports folder: bodies an earlier version staged there, and spools."""
    live = set(session.exec(select(ImportJob.id).where(col(ImportJob.status).in_(ACTIVE))))
    cutoff = time.time() - older_than_seconds
    for path in staging_dir().iterdir():
        try:
            if path.suffix == ".body" and uuid.UUID(path.stem) not in live and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
            elif path.suffix == ".part" and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
        except (ValueError, OSError):
            continue


# A failed job's staged file goes; queued jobs a stopped server left keep theirs and run, and files no job owns go.
QUEUE = jobs.Queue(
    "import",
    ImportJob,
    ImportJobStatus,
    order=(ImportJob.created_at, ImportJob.id),
    interrupted=INTERRUPTED,
    reason="message",
    claimed={"phase": ImportPhase.reading},
    ended=_end,
    recovered=_sweep,
    serial_by="case_id",  # a case's imports are loaded in the order they were sent
)


def mark_failed(session: Session, job_id: uuid.UUID, message: str, errors: list[dict] | None = None) -> None:
    """Failed with a reason (and the rows' problems, if that is why); its staged file goes."""
    QUEUE.fail(session, job_id, message, errors=errors or [])


def _progress(job_id: uuid.UUID, tick: Callable[[], None]) -> Callable[[int, int], None]:
    write = QUEUE.progress(job_id)

    def report(rows: int, size: int) -> None:
        tick()
        write(rows_read=rows, bytes_read=size)

    return report


def execute(job_id: uuid.UUID, *, tick: Callable[[], None]) -> None:
    """Run a claimed job. `tick` is called as the work goes on, and raises Interrupted when the server stops.
    A file with bad rows (or of a refused type) fails the job with the problems a 422 would list."""
    with session_scope() as session:
        job = session.get(ImportJob, job_id)
        assert job is not None, "a claimed job's row is there"
        case, actor = session.get(Case, job.case_id), session.get(User, job.created_by)
        if case is None or actor is None:
            raise LookupError("the case of the import, or the user who sent it, is gone")
        known = case_evidence_ids(session, case)
        postgres = session.get_bind().dialect.name == "postgresql"
    store = blobs.served_store()
    if not store.exists(job.sha256):
        with session_scope() as session:
            mark_failed(session, job_id, LOST)
        return

    def chunks() -> Iterator[bytes]:
        with store.open(job.sha256) as f:
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
        detail: dict[str, Any] = (
            exc.message if isinstance(exc.message, dict) else {"message": str(exc.message), "errors": []}
        )
        with session_scope() as session:
            mark_failed(session, job_id, detail["message"], detail.get("errors"))
        return
    try:
        QUEUE.report(
            job_id,
            phase=ImportPhase.storing,
            rows_total=parsed.count,
            rows_read=parsed.count,
            bytes_read=job.size_bytes,
        )
        with session_scope() as session:
            import_service.store(session, parsed, tick=tick)
            import_service.record_import(
                session, case=case, actor=actor, count=parsed.count, kind=parsed.kind, import_id=str(job_id)
            )
            QUEUE.finish(session, job_id, phase=ImportPhase.done, imported=parsed.count)
            _end(session, job_id)
    finally:
        parsed.spool.close()
    log.info("import %s: %d events into case %s", job_id, parsed.count, case.id)
