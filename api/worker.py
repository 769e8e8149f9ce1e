"""Runs queued work off the request path, in the server process: bundle builds and verify runs.

Each kind has one thread that takes its queued work, oldest first, one piece at a time. A bundle build runs in a
child process of its own, which keeps heavy rendering away from the server's event loop and GIL, and which the
thread watches: it is stopped when the build is cancelled or runs past its time limit, and if it crashes the bundle
is marked failed with the reason. A verify run stays in the thread: it mostly reads files and hashes them, and
hashing releases the GIL.

A thread survives anything its loop raises (a database outage, say): it logs it, waits (longer after each failure
in a row, up to a cap) and tries again. Each loop round is a heartbeat, which /healthz reads.
"""

import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlmodel import Session

from api.config import get_settings
from api.db import session_scope
from api.deps import get_blob_store
from api.lifelines import Child, Lease
from api.services import bundles as bundle_service
from api.services import verify_runs as verify_run_service
from models.bundle import BundleStatus

log = logging.getLogger("casebinder.worker")
IDLE_WAIT = 5.0  # seconds between looks for queued work nobody woke the runner for
BACKOFF_FIRST, BACKOFF_CAP = 0.5, 30.0  # seconds to wait after a failed round, doubling each time up to the cap


class QueueRunner:
    """One thread taking queued work of one kind; subclasses say how to find, claim, run and fail it."""

    kind = ""  # names the thread and the leases: "bundle" gives leases "bundle-<id>"
    what = ""  # the work in log lines: "bundle build"
    beats_while_busy = True  # whether its heartbeat goes on during a piece of work (else it is "busy" meanwhile)

    def __init__(self):
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._beat = time.monotonic()  # when the loop last came round: a heartbeat, read by problem()
        self._waiting = False
        self._busy_since: float | None = None
        self._failing_since: float | None = None
        self._last_error = ""
        self._unsettled: dict[uuid.UUID, str] = {}  # failures not yet recorded (the database was away)

    def lease(self, work_id: uuid.UUID) -> Lease:
        """Held by the server process for the whole piece of work, from before the claim to after the final commit."""
        return Lease(get_settings().data_dir / "locks", f"{self.kind}-{work_id}")

    def recover(self) -> int:
        """Mark work left running by a server that stopped failed; work whose lease a live process holds (another
        server on the same data dir) is left alone. Returns how many were marked."""
        with session_scope() as session:
            interrupted = self._fail_interrupted(session, lambda work_id: self.lease(work_id).held_elsewhere())
        if interrupted:
            log.warning("marked %d interrupted %s(s) failed", interrupted, self.what)
        return interrupted

    def start(self) -> None:
        self._stop.clear()
        try:
            self.recover()
        except Exception:  # noqa: BLE001 - a database away at start-up must not keep the server from starting
            log.exception("%s runner: could not look for interrupted work; the next start will", self.kind)
        self._beat, self._failing_since = time.monotonic(), None
        self._thread = threading.Thread(target=self._loop, name=f"{self.kind}-runner", daemon=True)
        self._thread.start()
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=30)

    def problem(self, now: float | None = None) -> str | None:
        """What is wrong with this runner, in a sentence for /healthz, or None. In-memory only: no query."""
        if self._thread is None:
            return None  # never started (no lifespan): nothing to watch
        if not self._thread.is_alive():
            return None if self._stop.is_set() else f"the {self.kind} runner has stopped: its thread died"
        now = time.monotonic() if now is None else now
        limit = get_settings().runner_stuck_seconds
        if self._failing_since is not None and now - self._failing_since > limit:
            return f"the {self.kind} runner has failed for {now - self._failing_since:.0f} s: {self._last_error}"
        if self._waiting or (self._busy_since is not None and not self.beats_while_busy):
            return None  # waiting, for a bounded time; or in a verify run, which can take hours and is not watched
        if now - self._beat > limit:
            return f"the {self.kind} runner is stuck: its loop has not come round for {now - self._beat:.0f} s"
        return None

    def _pause(self, event: threading.Event, seconds: float) -> None:
        """Wait (for work, or before trying again): a bounded wait, so the loop is not stuck meanwhile."""
        self._waiting = True
        try:
            event.wait(timeout=seconds)
        finally:
            self._waiting = False
            self._beat = time.monotonic()

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            self._pause(self._wake, IDLE_WAIT)
            self._wake.clear()
            try:
                self._drain()
            except Exception as exc:  # noqa: BLE001 - the runner must outlive anything a round raises
                failures += 1
                delay = min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** (failures - 1))
                self._failing_since = self._failing_since or time.monotonic()
                self._last_error = f"{type(exc).__name__}: {str(exc).strip()[:300]}"
                log.warning(
                    "%s runner: a round failed (%s); trying again in %.1f s", self.kind, self._last_error, delay
                )
                self._pause(self._stop, delay)
                self._wake.set()  # look again at once after the wait, queued work may be waiting
            else:
                if failures:
                    log.warning("%s runner: working again after %d failed round(s)", self.kind, failures)
                failures, self._failing_since = 0, None

    def _drain(self) -> None:
        """Take queued work until none is left (or the runner is stopping)."""
        self._settle_unsettled()
        while not self._stop.is_set():
            self._beat = time.monotonic()
            with session_scope() as session:
                work_id = self._next_queued(session)
            if work_id is None:
                return
            held = self.lease(work_id)
            if not held.acquire():  # another runner on this data dir took it
                continue
            try:
                with session_scope() as session:
                    claimed = self._claim(session, work_id)
                if claimed:
                    self._busy_since = time.monotonic()
                    try:
                        self._run(work_id)
                    finally:
                        self._busy_since = None
            finally:
                held.release()

    def _fail(self, work_id: uuid.UUID, message: str) -> None:
        """Record a failure; if the database is away, keep it and record it on a later round."""
        try:
            with session_scope() as session:
                self._mark_failed(session, work_id, message)
        except Exception:
            self._unsettled[work_id] = message
            raise
        self._unsettled.pop(work_id, None)

    def _settle_unsettled(self) -> None:
        for work_id, message in list(self._unsettled.items()):
            self._fail(work_id, message)

    def _next_queued(self, session: Session) -> uuid.UUID | None:
        raise NotImplementedError

    def _claim(self, session: Session, work_id: uuid.UUID) -> bool:
        raise NotImplementedError

    def _fail_interrupted(self, session: Session, still_running: Callable[[uuid.UUID], bool]) -> int:
        raise NotImplementedError

    def _run(self, work_id: uuid.UUID) -> None:
        raise NotImplementedError

    def _mark_failed(self, session: Session, work_id: uuid.UUID, message: str) -> None:
        raise NotImplementedError


def _build_in_child(bundle_id: str, workdir: str) -> None:
    from api.bundle import job

    job.run(bundle_id, workdir)


def _warm_up() -> None:
    """What every build needs first, done by a build process before it is given its bundle: the imports (WeasyPrint,
    pikepdf, the models) and the stamp font's subset, a second or more that no build then waits for."""
    from api.bundle import job, stamp  # noqa: F401 - imported in build processes only

    stamp.stamp_font()


CANCELLED = "cancelled"


class BundleRunner(QueueRunner):
    kind, what = "bundle", "bundle build"
    POLL = 0.5  # seconds between looks at a running build: has it ended, was it cancelled, is it past its limit?

    def _next_queued(self, session: Session) -> uuid.UUID | None:
        return bundle_service.next_queued(session)

    def _claim(self, session: Session, work_id: uuid.UUID) -> bool:
        return bundle_service.claim(session, work_id)

    def _fail_interrupted(self, session: Session, still_running: Callable[[uuid.UUID], bool]) -> int:
        return bundle_service.fail_interrupted(session, still_building=still_running)

    def _mark_failed(self, session: Session, work_id: uuid.UUID, message: str) -> None:
        bundle_service.mark_failed(session, work_id, message)  # a no-op for a build no longer running

    def __init__(self):
        super().__init__()
        self._spare: Child | None = None  # the next build's process, warmed up while the runner waits

    def stop(self) -> None:
        super().stop()
        spare, self._spare = self._spare, None
        if spare is not None:  # idle: shut down and waited for, so it leaves nothing behind
            spare.stop()

    def _child(self, bundle_id: uuid.UUID, workdir: Path) -> Child:
        """A build process given this build: the warmed-up spare, or a new one if there is none (or it died)."""
        child, self._spare = self._spare, None
        for _ in range(2):
            if child is None:
                child = Child(_build_in_child, prepare=_warm_up)
                child.start()
            if child.give(str(bundle_id), str(workdir)):
                return child
            child.stop()
            child = None
        raise RuntimeError("could not start a build process")

    def _run(self, bundle_id: uuid.UUID) -> None:
        """Build in a child process and watch it; whatever way it ends, its process and scratch files are gone
        before the outcome is recorded."""
        workdir = get_blob_store().tmp_dir / f"bundle-{bundle_id}"
        child = self._child(bundle_id, workdir)
        try:
            reason = self._watch(bundle_id, child)
        finally:
            child.stop()
            shutil.rmtree(workdir, ignore_errors=True)
            if not self._stop.is_set():
                self._spare = Child(_build_in_child, prepare=_warm_up)
                self._spare.start()
        if reason == CANCELLED:
            return
        if reason is None and child.exitcode != 0:
            log.error("bundle build %s: the build process ended with %s", bundle_id, child.exitcode)
            reason = bundle_service.CRASHED
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


runner = BundleRunner()
verify_runner = VerifyRunner()
