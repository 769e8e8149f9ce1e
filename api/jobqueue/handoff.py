"""The one way a queued job reaches whatever runs jobs (setting `job_queue`).

- `inprocess`: the runner thread of its kind is woken once the transaction that queued it has committed
  (api/worker.py registers the wakers);
- `procrastinate`: a job of the queue is added in the same transaction, by the queue's own defer function, so
  the row and its queue entry commit together or not at all, and a worker (`casebinder worker`) takes it.

The queue's job only names ours (`kind`, `job_id`); what the job has come to is written in our tables.
"""

import json
import uuid
from collections.abc import Callable

from sqlalchemy import Engine, text
from sqlmodel import Session

from api.config import get_settings
from api.db import on_commit, on_rollback

PROCRASTINATE = "procrastinate"
TASK = "casebinder.run_job"  # the queue's name for the one task that runs a job of ours of any kind
KINDS = (
    "bundle",
    "verify",
    "import",
    "text",
    "records",
    "analysis",
    "redaction",
    "production",
)  # each kind is a queue of its own, with a worker of its own

# kind -> wakes that kind's runner thread (in-process mode).
wakers: dict[str, Callable[[], None]] = {}
_TO_WAKE = "casebinder.wake_runners"

# procrastinate_defer_jobs_v1 is the versioned function the queue's own defer calls (its schema.sql).
_DEFER = text(
    "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(CAST(:queue AS varchar), CAST(:task AS varchar), 0, "
    "CAST(:lock AS text), NULL::text, CAST(:args AS jsonb), NULL::timestamptz)]::procrastinate_job_to_defer_v1[])"
)


class QueueNeedsPostgres(RuntimeError):
    """The queue is configured but the database is not PostgreSQL."""


def queued_elsewhere() -> bool:
    """Whether jobs are run by the queue's workers rather than by runner threads in this process."""
    return get_settings().job_queue == PROCRASTINATE


def check(engine: Engine) -> None:
    """Refuse, in words, a queue configured on a database that cannot hold it."""
    if queued_elsewhere() and engine.dialect.name != "postgresql":
        raise QueueNeedsPostgres(
            "CASEBINDER_JOB_QUEUE=procrastinate needs a PostgreSQL database (CASEBINDER_DATABASE_URL="
            f"postgresql+psycopg://...), not {engine.dialect.name}; leave it at `inprocess` with SQLite"
        )


def hand_over(session: Session, kind: str, job_id: uuid.UUID, lock: str) -> None:
    """Hand a job just queued in `session` to whatever runs jobs. `lock` serializes it with every other job of the
    same lock (the queue runs one of them at a time, across all workers)."""
    if queued_elsewhere():
        defer(session, kind, job_id, lock)
        return
    to_wake: set[str] = session.info.setdefault(_TO_WAKE, set())
    if not to_wake:  # once per transaction, however many jobs it queued
        on_commit(session, lambda: _wake_all(session.info.pop(_TO_WAKE, set())))
        on_rollback(session, lambda: session.info.pop(_TO_WAKE, None))
    to_wake.add(kind)


def defer(session: Session, kind: str, job_id: uuid.UUID, lock: str) -> None:
    """Add the queue's job for one of ours, in the session's transaction."""
    args = json.dumps({"kind": kind, "job_id": str(job_id)})
    session.execute(_DEFER, {"queue": kind, "task": TASK, "lock": lock, "args": args})


def _wake_all(kinds: set[str]) -> None:
    for kind in kinds:
        waker = wakers.get(kind)
        if waker is not None:
            waker()
