"""`casebinder worker`: runs the jobs of the PostgreSQL queue (Procrastinate), one queue per kind of job.

Each kind (bundle, verify, import, text) has a Procrastinate worker of its own with one job at a time, as the server's
runner threads have in the in-process mode, and each job is run by the same code as there (api/worker.py:
`Runner.take`, under the job's lease, claimed by a conditional update): a bundle build still in a child process,
a verify run in the thread, imports, text in the reader process. Several `casebinder worker` processes, on any
hosts, share the queue.

A worker that dies (SIGKILL, a host gone) stops sending its heartbeat; every live worker looks, every
`queue_sweep_seconds`, for the jobs of workers silent for `queue_stalled_seconds` (settings), puts our row back to
queued (its lease is free: nobody alive runs it) and has the queue retry the job, so another worker runs it to the
end within a minute or so. The same look hands the queue any of our rows still queued with no job of the queue (rows
queued before the queue was configured, text jobs queued again by a recovery).
"""

import asyncio
import logging
import os
import signal
import socket
import uuid

import procrastinate
from procrastinate import jobs as queue_jobs
from sqlalchemy import text

from api.config import get_settings
from api.db import get_engine, session_scope
from api.jobqueue import handoff
from api.jobqueue import schema as queue_schema
from api.locks import conninfo

log = logging.getLogger("casebinder.worker")
MAX_ATTEMPTS = 3  # a job whose worker died this many times is failed, not retried again (it may be what kills it)
POLL_SECONDS = 5.0  # the fallback when a notification of a new job is missed


def refusal() -> str | None:
    """Why a worker cannot start here, in words (no queue configured, not PostgreSQL, a schema not migrated)."""
    from api.migrate import schema_behind

    if not handoff.queued_elsewhere():
        return "no job queue is configured (CASEBINDER_JOB_QUEUE=procrastinate): `casebinder serve` runs the jobs"
    engine = get_engine()
    try:
        handoff.check(engine)
    except handoff.QueueNeedsPostgres as exc:
        return str(exc)
    return schema_behind(engine) or queue_schema.behind(engine)


def run_job(kind: str, job_id: str) -> None:
    """The queue's one task: run one job of ours of `kind`, if nobody has run it or runs it now."""
    from api.worker import RUNNERS

    taken = RUNNERS[kind].take(uuid.UUID(job_id))
    log.info("%s %s: %s", kind, job_id, "done here" if taken else "taken elsewhere or no longer queued, skipped")


def make_app() -> procrastinate.App:
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo(get_engine()), max_size=12))
    app.task(name=handoff.TASK)(run_job)
    return app


def _requeue(kind: str, job_id: str, attempts: int) -> str | None:
    """Our side of a stalled job: back to queued if no live process holds its lease ("retry"); failed, with the
    reason a job cut short by a stop gets, once it has been tried MAX_ATTEMPTS times ("fail"); None while some
    live process holds the lease (a worker slow to beat, say): looked at again at the next sweep."""
    from api.worker import RUNNERS

    runner = RUNNERS[kind]
    work_id = uuid.UUID(job_id)
    if runner.lease(work_id).held_elsewhere():
        return None
    with session_scope() as session:
        if attempts + 1 >= MAX_ATTEMPTS:
            runner.work.queue.mark_failed(session, work_id, runner.work.queue.interrupted)
            return "fail"
        runner.work.queue.requeue_abandoned(session, work_id)
    return "retry"


def adopt_queued() -> int:
    """Hand the queue every row of ours that is queued with no job of the queue waiting for or running it."""
    from api.worker import RUNNERS

    handed = 0
    with session_scope() as session:
        for kind, runner in RUNNERS.items():
            queue = runner.work.queue
            serial = queue.serial_by or "id"
            rows = session.execute(
                text(
                    f"SELECT t.id, t.{serial} FROM {queue.model.__tablename__} t WHERE t.status = 'queued' "
                    "AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs p WHERE p.queue_name = :kind "
                    "AND p.status IN ('todo', 'doing') AND p.args->>'job_id' = CAST(t.id AS text))"
                ),
                {"kind": kind},
            ).all()
            for job_id, serial_value in rows:
                handoff.defer(session, kind, job_id, f"{kind}-{serial_value}")
            handed += len(rows)
    if handed:
        log.info("handed the queue %d queued job(s) it did not hold", handed)
    return handed


async def sweep(app: procrastinate.App) -> None:
    """Retry the jobs of dead workers, and queue what the queue does not hold."""
    stalled = get_settings().queue_stalled_seconds
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled):
        kind, job_id = job.task_kwargs.get("kind"), job.task_kwargs.get("job_id")
        if job.task_name != handoff.TASK or not isinstance(kind, str) or not isinstance(job_id, str):
            continue
        outcome = await asyncio.to_thread(_requeue, kind, job_id, job.attempts)
        if outcome == "retry":
            log.warning("%s %s: its worker stopped answering; the job is queued again", kind, job_id)
            await app.job_manager.retry_job(job)
        elif outcome == "fail":
            log.error("%s %s: its worker died %d times during it; failed", kind, job_id, MAX_ATTEMPTS)
            await app.job_manager.finish_job(job, status=queue_jobs.Status.FAILED, delete_job=False)
    await asyncio.to_thread(adopt_queued)


async def _sweeping(app: procrastinate.App) -> None:
    pause = get_settings().queue_sweep_seconds
    while True:
        try:
            await sweep(app)
        except Exception:  # noqa: BLE001 - the database away for a moment: the next sweep tries again
            log.exception("the worker's sweep failed; trying again in %.0f s", pause)
        await asyncio.sleep(pause)


async def serve(name: str | None = None) -> None:
    """Run the workers until SIGTERM or SIGINT; then the jobs going on give up and are queued again, for another
    worker (a verify run, which cannot be cut short, is waited for)."""
    from api.worker import RUNNERS

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    name = name or f"{socket.gethostname()}-{os.getpid()}"
    app, settings = make_app(), get_settings()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with app.open_async():
        workers = [
            asyncio.create_task(
                app.run_worker_async(
                    queues=[kind],
                    name=f"{name}-{kind}",
                    concurrency=1,
                    install_signal_handlers=False,
                    update_heartbeat_interval=settings.queue_heartbeat_seconds,
                    stalled_worker_timeout=settings.queue_stalled_seconds,
                    fetch_job_polling_interval=POLL_SECONDS,
                    delete_jobs="successful",
                )
            )
            for kind in handoff.KINDS
        ]
        sweeper = asyncio.create_task(_sweeping(app))
        log.warning("worker %s: taking jobs of the queues %s", name, ", ".join(handoff.KINDS))
        done, _ = await asyncio.wait([*workers, asyncio.create_task(stop.wait())], return_when="FIRST_COMPLETED")
        for task in done:
            if task in workers and task.exception() is not None:
                log.error("worker %s: a queue's worker ended: %r", name, task.exception())
        log.warning("worker %s: stopping", name)
        for runner in RUNNERS.values():
            runner.halt()  # a job going on gives up and goes back to queued
        sweeper.cancel()
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, sweeper, return_exceptions=True)
        for runner in RUNNERS.values():
            runner.stop()
