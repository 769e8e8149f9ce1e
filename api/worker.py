"""Runs bundle builds off the request path: one thread hands queued bundles, one at a time, to a worker process.

The process keeps heavy rendering away from the server's event loop and GIL; if it crashes, the bundle is
marked failed with the reason and the next build gets a fresh process.
"""

import logging
import multiprocessing
import threading
import uuid
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from api.config import get_settings
from api.db import session_scope
from api.lifelines import Lease, die_with_parent
from api.services import bundles as bundle_service

log = logging.getLogger("casebinder.worker")


def lease(bundle_id: uuid.UUID) -> Lease:
    """Held by the server process for the whole build, from before the claim to after the final commit."""
    return Lease(get_settings().data_dir / "locks", f"bundle-{bundle_id}")


def _build_in_child(bundle_id: str) -> None:
    from api.bundle import job  # imported in the worker process only

    job.run(bundle_id)


class BundleRunner:
    def __init__(self):
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        with session_scope() as session:
            interrupted = bundle_service.fail_interrupted(
                session, still_building=lambda bundle_id: lease(bundle_id).held_elsewhere()
            )
        if interrupted:
            log.warning("marked %d interrupted bundle build(s) failed", interrupted)
        self._thread = threading.Thread(target=self._loop, name="bundle-runner", daemon=True)
        self._thread.start()
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=30)
        if self._pool:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=die_with_parent
            )
        return self._pool

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=5)
            self._wake.clear()
            while not self._stop.is_set():
                with session_scope() as session:
                    bundle_id = bundle_service.next_queued(session)
                if bundle_id is None:
                    break
                held = lease(bundle_id)
                if not held.acquire():  # another runner on this data dir took it
                    continue
                try:
                    with session_scope() as session:
                        claimed = bundle_service.claim(session, bundle_id)
                    if claimed:
                        self._run(bundle_id)
                finally:
                    held.release()

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


runner = BundleRunner()
