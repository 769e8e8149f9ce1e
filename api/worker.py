"""Runs queued work off the request path, in the server process: bundle builds, verify runs and event imports,
each kind taken by one runner thread (api/runners.py), described here by what running one of its jobs means.

A bundle build runs in a child process of its own, which keeps heavy rendering away from the server's event loop
and GIL, and which the thread watches: it is stopped when the build is cancelled or runs past its time limit, and
if it crashes the bundle is marked failed with the reason. A verify run stays in the thread: it mostly reads files
and hashes them, and hashing releases the GIL.
"""

import logging
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from api.config import get_settings
from api.db import session_scope
from api.deps import get_blob_store
from api.jobqueue import handoff
from api.lifelines import Child
from api.runners import Runner, Work
from api.services import analyses as analysis_service
from api.services import bundles as bundle_service
from api.services import productions as production_service
from api.services import record_sets as record_set_service
from api.services import redactions as redaction_service
from api.services import text as text_service
from api.services import verify_runs as verify_run_service
from api.services.timeline import import_jobs as import_job_service
from api.text.reader import Reader
from models.bundle import BundleStatus

log = logging.getLogger("casebinder.worker")


def _build_in_child(bundle_id: str, workdir: str) -> None:
    from api.services import bundle_build

    bundle_build.run(bundle_id, workdir, get_blob_store)  # opened by the build: the store may not answer yet


def _warm_up() -> None:
    """What every build needs first, done by a build process before it is given its bundle: the imports (WeasyPrint,
    pikepdf, the models), the converter's fork server and the stamp font's subsets, a second or more that no build then
    waits for."""
    from api.bundle import converter, stamp
    from api.services import bundle_build  # noqa: F401 - imported in build processes only

    converter.warm_up()
    stamp.stamp_font()
    stamp.stamp_font(bold=True)


CANCELLED = "cancelled"
LOW_SPACE = 4 * 1024 * 1024  # free bytes below which a build that died is taken to have run out of disk space
# A build process that finished its build takes the next one, unless it has grown this big or built this many: a
# new one costs a second or more of imports, while a fresh one gives back what the last builds left allocated.
RECYCLE_BYTES = 300 * 1024 * 1024
RECYCLE_BUILDS = 50


def _short_of_space(path: Path) -> bool:
    try:
        return shutil.disk_usage(path).free < LOW_SPACE
    except OSError:
        return False


class Builds:
    """Bundle builds, each in a build process (api/lifelines.py Child) that the runner watches and can stop. A
    process whose build finished takes the next (see RECYCLE_BYTES); otherwise the next build's process is started,
    and warms up, while the runner waits for work."""

    POLL = 0.5  # seconds between looks at a running build: has it ended, was it cancelled, is it past its limit?

    def __init__(self):
        self._spare: Child | None = None  # the next build's process, warmed up while the runner waits

    def close(self) -> None:
        spare, self._spare = self._spare, None
        if spare is not None:  # idle: it ends by itself and is waited for, so it leaves nothing behind
            spare.close()

    def _child(self, bundle_id: uuid.UUID, workdir: Path) -> Child:
        """A build process given this build: the warmed-up spare, or a new one if there is none (or it died)."""
        child, self._spare = self._spare, None
        for _ in range(2):
            if child is None:
                child = Child(_build_in_child, prepare=_warm_up, name="cb-build")
                child.start()
            if child.give(str(bundle_id), str(workdir)):
                return child
            child.stop()
            child = None
        raise RuntimeError("could not start a build process")

    def run(self, runner: Runner, bundle_id: uuid.UUID) -> None:
        """Build in a child process and watch it; whatever way it ends, its process and scratch files are gone
        before the outcome is recorded."""
        workdir = get_blob_store().scratch_path(f"bundle-{bundle_id}")
        child = self._child(bundle_id, workdir)
        reason = None
        try:
            reason = self._watch(runner, bundle_id, child)
        finally:
            reuse = reason is None and child.finished and not runner.stopping and _fit_for_more(child)
            if not reuse:
                child.stop()
            full = _short_of_space(workdir.parent)  # measured before its scratch files are removed
            shutil.rmtree(workdir, ignore_errors=True)
            if reuse:
                self._spare = child
            elif not runner.stopping:
                self._spare = Child(_build_in_child, prepare=_warm_up, name="cb-build")
                self._spare.start()
        if reason == CANCELLED:
            return
        if reason is None and not child.finished:
            log.error("bundle build %s: the build process ended with %s", bundle_id, child.exitcode)
            # A process that dies writing to a full disk (a write to a mapped file, say) says nothing about it.
            reason = bundle_service.DISK_FULL if full else bundle_service.CRASHED
        if reason is not None:
            runner.fail(bundle_id, reason)  # a no-op for a build no longer running

    def _watch(self, runner: Runner, bundle_id: uuid.UUID, child: Child) -> str | None:
        """Wait for the build to end: None when it ended by itself, CANCELLED when it was cancelled (the cancel has
        recorded why), else the reason it must be stopped and failed."""
        limit = get_settings().bundle_build_timeout_seconds
        # The limit counts from when the build process takes the build (a fresh one warms up first), or at the
        # latest from one limit after it was handed over.
        handed, began = time.monotonic(), None
        while not child.wait(self.POLL):
            runner.beat()
            now = time.monotonic()
            if runner.stopping:
                return bundle_service.INTERRUPTED
            if began is None and (child.started() or now - handed > limit):
                began = now
            if began is not None and now - began > limit:
                log.warning("bundle build %s: past its %.0f s limit, stopping it", bundle_id, limit)
                return bundle_service.timed_out(limit)
            try:
                with session_scope() as session:
                    status = bundle_service.QUEUE.status_of(session, bundle_id)
            except Exception as exc:  # noqa: BLE001 - the database away for a moment: the build goes on
                log.warning("bundle build %s: cannot see whether it was cancelled (%s)", bundle_id, exc)
                continue
            # Done: the build has recorded its result and is tidying up, so it is left to end by itself.
            if status not in (BundleStatus.running, BundleStatus.done):
                log.info("bundle build %s: cancelled, stopping it", bundle_id)
                return CANCELLED
        return None


def _fit_for_more(child: Child) -> bool:
    return child.given < RECYCLE_BUILDS and child.resident_bytes() < RECYCLE_BYTES


def _verify(runner: Runner, run_id: uuid.UUID) -> None:
    """A verify run, done as the administrator who queued it. A run cannot be cut short: one still going when the
    server stops ends with the process, and the next start marks it failed."""
    try:
        with session_scope() as session:
            verify_run_service.execute(session, get_blob_store(), run_id)
    except Exception as exc:  # noqa: BLE001 - a failure here must not stop the runner
        log.exception("verify run %s failed", run_id)
        runner.fail(run_id, f"{type(exc).__name__}: {exc}")


def _stoppable(
    runner: Runner,
    job_id: uuid.UUID,
    execute: Callable[..., None],
    *,
    what: str,
    stopping: type[Exception],
    interrupted: str,
    failed: str,
) -> None:
    """Run a job in the runner's thread with a `tick` that keeps its heartbeat and, once the server is stopping,
    raises `stopping`: the job gives up at its next tick and is failed with `interrupted` (with the queue's workers,
    queued again). Any other failure is logged and recorded as `failed`, with what went wrong."""

    def tick() -> None:
        runner.beat()
        if runner.stopping:
            raise stopping

    try:
        execute(job_id, tick=tick)
    except stopping:
        log.warning("%s %s: the server is stopping, so it was given up", what, job_id)
        runner.fail(job_id, interrupted)
    except Exception as exc:  # noqa: BLE001 - a failure here must not stop the runner
        log.exception("%s %s failed", what, job_id)
        runner.fail(job_id, f"{failed} ({type(exc).__name__}: {exc})")


def _import(runner: Runner, job_id: uuid.UUID) -> None:
    """An events import staged as a job, in the thread: parsing is Python work, and the load is the database's. One
    still going when the server stops gives up at its next progress report (nothing is stored until its single
    commit), and the next start marks any the process could not finish failed."""
    _stoppable(
        runner, job_id, import_job_service.execute, what="events import", stopping=import_job_service.Interrupted,
        interrupted=import_job_service.INTERRUPTED, failed="the import failed, so nothing was stored",
    )  # fmt: skip


def _import_records(runner: Runner, record_set_id: uuid.UUID) -> None:
    """A record set's import, in the thread: reading and converting lines is Python work, the load is the
    database's. One still going when the server stops gives up after its batch, and is failed (none of its records
    kept); with the queue's workers it is queued again and starts over."""
    _stoppable(
        runner, record_set_id, record_set_service.execute, what="record set import",
        stopping=record_set_service.Interrupted, interrupted=record_set_service.INTERRUPTED,
        failed="the import failed, so none of its records were kept",
    )  # fmt: skip


def _analyse(runner: Runner, analysis_id: uuid.UUID) -> None:
    """An analysis of record sets, in the thread. One still going when the server stops gives up (it stores its
    findings only at its end) and is failed; with the queue's workers it is queued again."""
    _stoppable(
        runner, analysis_id, analysis_service.execute, what="analysis", stopping=analysis_service.Interrupted,
        interrupted=analysis_service.INTERRUPTED, failed="the analysis failed",
    )  # fmt: skip


def _redact(runner: Runner, set_id: uuid.UUID) -> None:
    """Burning an item's accepted redactions into a derived copy, checked before it is stored. One still going when
    the server stops is failed (nothing is stored before its end); with the queue's workers it is queued again."""
    _stoppable(
        runner, set_id, redaction_service.execute, what="redaction set", stopping=redaction_service.Interrupted,
        interrupted=redaction_service.INTERRUPTED, failed="the redactions could not be applied; nothing was released",
    )  # fmt: skip


def _produce(runner: Runner, production_id: uuid.UUID) -> None:
    """A production written out, checked and stored. One still going when the server stops is failed (nothing is
    kept before its end); with the queue's workers it is queued again."""
    _stoppable(
        runner, production_id, production_service.execute, what="production",
        stopping=production_service.Interrupted, interrupted=production_service.INTERRUPTED,
        failed="the production could not be written; nothing was produced",
    )  # fmt: skip


class _Stopping(Exception):
    pass


def _read_text(runner: Runner, evidence_id: uuid.UUID) -> None:
    """An item's text, read by the text reader process (niced: requests come first). One still going when the
    server stops is given up, and queued again at the next start."""

    def tick() -> None:
        runner.beat()
        if runner.stopping:
            raise _Stopping

    try:
        text_service.execute(session_scope, get_blob_store(), text_reader, evidence_id, tick=tick)
    except _Stopping:
        runner.fail(evidence_id, text_service.INTERRUPTED)
    except Exception as exc:  # noqa: BLE001 - a failure here must not stop the runner
        log.exception("text of %s failed", evidence_id)
        runner.fail(evidence_id, f"the text could not be read ({type(exc).__name__}: {exc})")


builds = Builds()
runner = Runner(Work("bundle", "bundle build", bundle_service.QUEUE, builds.run, close=builds.close))
# A verify run mostly waits on the disk and is not watched: it can take hours.
verify_runner = Runner(Work("verify", "verify run", verify_run_service.QUEUE, _verify, beats_while_busy=False))
import_runner = Runner(Work("import", "events import", import_job_service.QUEUE, _import))
records_runner = Runner(Work("records", "record set import", record_set_service.QUEUE, _import_records))
analysis_runner = Runner(Work("analysis", "analysis", analysis_service.QUEUE, _analyse))
redaction_runner = Runner(Work("redaction", "redaction set", redaction_service.QUEUE, _redact))
production_runner = Runner(Work("production", "production", production_service.QUEUE, _produce))
text_reader = Reader()
text_runner = Runner(Work("text", "text extraction", text_service.QUEUE, _read_text, close=text_reader.close))
text_service.wakers.append(text_runner.wake)
# By kind: the runner that runs a job of it (its thread in the in-process mode, `casebinder worker` with the queue).
RUNNERS = {
    "bundle": runner,
    "verify": verify_runner,
    "import": import_runner,
    "text": text_runner,
    "records": records_runner,
    "analysis": analysis_runner,
    "redaction": redaction_runner,
    "production": production_runner,
}
handoff.wakers.update({kind: each.wake for kind, each in RUNNERS.items()})
