"""Runs queued work off the request path, in the server process: bundle builds, verify runs and event imports,
each kind taken by one thread (api/runners.py).

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

from sqlmodel import Session

from api.config import get_settings
from api.db import session_scope
from api.deps import get_blob_store
from api.lifelines import Child
from api.runners import QueueRunner
from api.services import bundles as bundle_service
from api.services import import_jobs as import_job_service
from api.services import verify_runs as verify_run_service
from models.bundle import BundleStatus

log = logging.getLogger("casebinder.worker")


def _build_in_child(bundle_id: str, workdir: str) -> None:
    from api.bundle import job

    job.run(bundle_id, workdir)


def _warm_up() -> None:
    """What every build needs first, done by a build process before it is given its bundle: the imports (WeasyPrint,
    pikepdf, the models) and the stamp font's subsets, a second or more that no build then waits for."""
    from api.bundle import job, stamp  # noqa: F401 - imported in build processes only

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


class BundleRunner(QueueRunner):
    """Bundle builds, each in a build process (api/lifelines.py Child) that the runner watches and can stop. A
    process whose build finished takes the next (see RECYCLE_BYTES); otherwise the next build's process is started,
    and warms up, while the runner waits for work."""

    kind, what = "bundle", "bundle build"
    POLL = 0.5  # seconds between looks at a running build: has it ended, was it cancelled, is it past its limit?

    def __init__(self):
        super().__init__()
        self._spare: Child | None = None  # the next build's process, warmed up while the runner waits

    def stop(self) -> None:
        super().stop()
        spare, self._spare = self._spare, None
        if spare is not None:  # idle: it ends by itself and is waited for, so it leaves nothing behind
            spare.close()

    def _next_queued(self, session: Session) -> uuid.UUID | None:
        return bundle_service.next_queued(session)

    def _claim(self, session: Session, work_id: uuid.UUID) -> bool:
        return bundle_service.claim(session, work_id)

    def _fail_interrupted(self, session: Session, still_running: Callable[[uuid.UUID], bool]) -> int:
        return bundle_service.fail_interrupted(session, still_building=still_running)

    def _mark_failed(self, session: Session, work_id: uuid.UUID, message: str) -> None:
        bundle_service.mark_failed(session, work_id, message)  # a no-op for a build no longer running

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

    def _run(self, bundle_id: uuid.UUID) -> None:
        """Build in a child process and watch it; whatever way it ends, its process and scratch files are gone
        before the outcome is recorded."""
        workdir = get_blob_store().scratch_path(f"bundle-{bundle_id}")
        child = self._child(bundle_id, workdir)
        reason = None
        try:
            reason = self._watch(bundle_id, child)
        finally:
            reuse = reason is None and child.finished and not self._stop.is_set() and _fit_for_more(child)
            if not reuse:
                child.stop()
            full = _short_of_space(workdir.parent)  # measured before its scratch files are removed
            shutil.rmtree(workdir, ignore_errors=True)
            if reuse:
                self._spare = child
            elif not self._stop.is_set():
                self._spare = Child(_build_in_child, prepare=_warm_up, name="cb-build")
                self._spare.start()
        if reason == CANCELLED:
            return
        if reason is None and not child.finished:
            log.error("bundle build %s: the build process ended with %s", bundle_id, child.exitcode)
            # A process that dies writing to a full disk (a write to a mapped file, say) says nothing about it.
            reason = bundle_service.DISK_FULL if full else bundle_service.CRASHED
        if reason is not None:
            self._fail(bundle_id, reason)

    def _watch(self, bundle_id: uuid.UUID, child: Child) -> str | None:
        """Wait for the build to end: None when it ended by itself, CANCELLED when it was cancelled (the cancel has
        recorded why), else the reason it must be stopped and failed."""
        limit = get_settings().bundle_build_timeout_seconds
        # The limit counts from when the build process takes the build (a fresh one warms up first), or at the
        # latest from one limit after it was handed over.
        handed, began = time.monotonic(), None
        while not child.wait(self.POLL):
            now = self._beat = time.monotonic()
            if self._stop.is_set():
                return bundle_service.INTERRUPTED
            if began is None and (child.started() or now - handed > limit):
                began = now
            if began is not None and now - began > limit:
                log.warning("bundle build %s: past its %.0f s limit, stopping it", bundle_id, limit)
                return bundle_service.timed_out(limit)
            try:
                with session_scope() as session:
                    status = bundle_service.status_of(session, bundle_id)
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


class VerifyRunner(QueueRunner):
    """Verify runs, each done as the administrator who queued it. A run cannot be cut short: one still going when
    the server stops ends with the process, and the next start marks it failed."""

    kind, what = "verify", "verify run"
    beats_while_busy = False

    def _next_queued(self, session: Session) -> uuid.UUID | None:
        return verify_run_service.next_queued(session)

    def _claim(self, session: Session, work_id: uuid.UUID) -> bool:
        return verify_run_service.claim(session, work_id)

    def _fail_interrupted(self, session: Session, still_running: Callable[[uuid.UUID], bool]) -> int:
        return verify_run_service.fail_interrupted(session, still_running=still_running)

    def _mark_failed(self, session: Session, work_id: uuid.UUID, message: str) -> None:
        verify_run_service.mark_failed(session, work_id, message)

    def _run(self, run_id: uuid.UUID) -> None:
        try:
            with session_scope() as session:
                verify_run_service.execute(session, get_blob_store(), run_id)
        except Exception as exc:  # noqa: BLE001 - a failure here must not stop the runner
            log.exception("verify run %s failed", run_id)
            self._fail(run_id, f"{type(exc).__name__}: {exc}")


class ImportRunner(QueueRunner):
    """Event imports staged as jobs, one at a time, in the thread: parsing is Python work, and the load is the
    database's. One still going when the server stops gives up at its next progress report (nothing is stored
    until its single commit), and the next start marks any the process could not finish failed."""

    kind, what = "import", "events import"

    def _next_queued(self, session: Session) -> uuid.UUID | None:
        return import_job_service.next_queued(session)

    def _claim(self, session: Session, work_id: uuid.UUID) -> bool:
        return import_job_service.claim(session, work_id)

    def _fail_interrupted(self, session: Session, still_running: Callable[[uuid.UUID], bool]) -> int:
        return import_job_service.fail_interrupted(session, still_running=still_running)

    def _mark_failed(self, session: Session, work_id: uuid.UUID, message: str) -> None:
        import_job_service.mark_failed(session, work_id, message)

    def _tick(self) -> None:
        self._beat = time.monotonic()
        if self._stop.is_set():
            raise import_job_service.Interrupted

    def _run(self, job_id: uuid.UUID) -> None:
        try:
            import_job_service.execute(job_id, tick=self._tick)
        except import_job_service.Interrupted:
            log.warning("events import %s: the server is stopping, so it was given up", job_id)
            self._fail(job_id, import_job_service.INTERRUPTED)
        except Exception as exc:  # noqa: BLE001 - a failure here must not stop the runner
            log.exception("events import %s failed", job_id)
            self._fail(job_id, f"the import failed, so nothing was stored ({type(exc).__name__}: {exc})")


runner = BundleRunner()
verify_runner = VerifyRunner()
import_runner = ImportRunner()
