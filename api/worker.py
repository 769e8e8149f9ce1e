"""Runs queued work off the request path, in the server process: bundle builds and verify runs.

Each kind has one thread that takes its queued work, oldest first, one piece at a time. A bundle build is handed
to a worker process, which keeps heavy rendering away from the server's event loop and GIL; if it crashes, the
bundle is marked failed with the reason and the next build gets a fresh process. A verify run stays in the
thread: it mostly reads files and hashes them, and hashing releases the GIL.
"""

import logging
import multiprocessing
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from sqlmodel import Session

from api.config import get_settings
from api.db import session_scope
from api.deps import get_blob_store
from api.lifelines import Lease, die_with_parent
from api.services import bundles as bundle_service
from api.services import verify_runs as verify_run_service

log = logging.getLogger("casebinder.worker")


class QueueRunner:
    """One thread taking queued work of one kind; subclasses say how to find, claim, run and fail it."""

    kind = ""  # names the thread and the leases: "bundle" gives leases "bundle-<id>"
    what = ""  # the work in log lines: "bundle build"

    def __init__(self):
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

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
        self.recover()
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

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=5)
            self._wake.clear()
            while not self._stop.is_set():
                with session_scope() as session:
                    work_id = self._next_queued(session)
                if work_id is None:
                    break
                held = self.lease(work_id)
                if not held.acquire():  # another runner on this data dir took it
                    continue
                try:
                    with session_scope() as session:
                        claimed = self._claim(session, work_id)
                    if claimed:
                        self._run(work_id)
                finally:
                    held.release()

    def _next_queued(self, session: Session) -> uuid.UUID | None:
        raise NotImplementedError

    def _claim(self, session: Session, work_id: uuid.UUID) -> bool:
        raise NotImplementedError

    def _fail_interrupted(self, session: Session, still_running: Callable[[uuid.UUID], bool]) -> int:
        raise NotImplementedError

    def _run(self, work_id: uuid.UUID) -> None:
        raise NotImplementedError


def _build_in_child(bundle_id: str) -> None:
    from api.bundle import job  # imported in the worker process only

    job.run(bundle_id)


class BundleRunner(QueueRunner):
    kind, what = "bundle", "bundle build"

    def __init__(self):
        super().__init__()
        self._pool: ProcessPoolExecutor | None = None

    def stop(self) -> None:
        super().stop()
        if self._pool:
            # Idle, the worker process is shut down and waited for, so it leaves nothing behind; a build still
            # going is not waited for (the next start marks it failed, as after a crash).
            idle = self._thread is None or not self._thread.is_alive()
            self._pool.shutdown(wait=idle, cancel_futures=True)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=die_with_parent
            )
        return self._pool

    def _next_queued(self, session: Session) -> uuid.UUID | None:
        return bundle_service.next_queued(session)

    def _claim(self, session: Session, work_id: uuid.UUID) -> bool:
        return bundle_service.claim(session, work_id)

    def _fail_interrupted(self, session: Session, still_running: Callable[[uuid.UUID], bool]) -> int:
        return bundle_service.fail_interrupted(session, still_building=still_running)

    def _run(self, bundle_id: uuid.UUID) -> None:
        try:
            self._executor().submit(_build_in_child, str(bundle_id)).result()
        except BrokenProcessPool:
            self._pool = None
            self._fail(bundle_id, "the build process stopped unexpectedly (out of memory or killed); rebuild it")
        except Exception as exc:  # noqa: BLE001 - a failure here must not stop the runner
            log.exception("bundle build %s failed", bundle_id)
            self._fail(bundle_id, f"{type(exc).__name__}: {exc}")

    @staticmethod
    def _fail(bundle_id: uuid.UUID, message: str) -> None:
        with session_scope() as session:
            bundle_service.mark_failed(session, bundle_id, message)


class VerifyRunner(QueueRunner):
    """Verify runs, each done as the administrator who queued it. A run cannot be cut short: one still going when
    the server stops ends with the process, and the next start marks it failed."""

    kind, what = "verify", "verify run"

    def _next_queued(self, session: Session) -> uuid.UUID | None:
        return verify_run_service.next_queued(session)

    def _claim(self, session: Session, work_id: uuid.UUID) -> bool:
        return verify_run_service.claim(session, work_id)

    def _fail_interrupted(self, session: Session, still_running: Callable[[uuid.UUID], bool]) -> int:
        return verify_run_service.fail_interrupted(session, still_running=still_running)

    def _run(self, run_id: uuid.UUID) -> None:
        try:
            with session_scope() as session:
                verify_run_service.execute(session, get_blob_store(), run_id)
        except Exception as exc:  # noqa: BLE001 - a failure here must not stop the runner
            log.exception("verify run %s failed", run_id)
            with session_scope() as session:
                verify_run_service.mark_failed(session, run_id, f"{type(exc).__name__}: {exc}")


runner = BundleRunner()
verify_runner = VerifyRunner()
