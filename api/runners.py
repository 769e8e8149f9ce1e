"""The one background runner: a thread taking queued jobs of one kind, oldest first, one at a time, that outlives
anything a round raises and keeps a heartbeat for the health checks. A kind is described by a `Work`: its queue
(finding, claiming, failing and recovering its jobs: api/services/jobs.py) and what running one of them means.

A round that fails (a database outage, say) is logged and tried again after a pause that doubles with each failure
in a row, up to a cap.
"""

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from api import locks
from api.config import get_settings
from api.db import session_scope
from api.lifelines import Lease as FileLease
from api.locks import PgLease
from api.services.jobs import Queue

log = logging.getLogger("casebinder.worker")
IDLE_WAIT = 5.0  # seconds between looks for queued work nobody woke the runner for
BACKOFF_FIRST, BACKOFF_CAP = 0.5, 30.0  # seconds to wait after a failed round, doubling each time up to the cap


@dataclass(frozen=True)
class Work:
    """One kind of background job, as its runner sees it."""

    kind: str  # names the thread and the leases: "bundle" gives leases "bundle-<id>"
    what: str  # the work in log lines: "bundle build"
    queue: Queue
    # Runs a claimed job to its end, recording how it ended (`Runner.fail` for a failure it did not record itself).
    run: Callable[["Runner", uuid.UUID], None]
    beats_while_busy: bool = True  # whether its heartbeat goes on during a job (else it is "busy" meanwhile)
    close: Callable[[], None] | None = None  # once the runner has stopped: lets go of what it keeps between jobs


class Runner:
    """One thread taking queued jobs of one kind."""

    def __init__(self, work: Work):
        self.work = work
        self.kind = work.kind
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._beat = time.monotonic()  # when the loop last came round: a heartbeat, read by problem()
        self._waiting = False
        self._busy_since: float | None = None
        self._failing_since: float | None = None
        self._last_error = ""
        self._unsettled: dict[uuid.UUID, str] = {}  # failures not yet recorded (the database was away)
        self._recovered_at = time.monotonic()  # start() recovers first
        self.requeue_when_halted = False  # see halt()

    def lease(self, work_id: uuid.UUID) -> FileLease | PgLease:
        """Held by the process for the whole piece of work, from before the claim to after the final commit."""
        return locks.lease(f"{self.kind}-{work_id}")

    def recover(self) -> int:
        """Mark work left running by a server that stopped failed; work whose lease a live process holds (another
        server on the same data dir) is left alone. Returns how many were marked."""
        with session_scope() as session:
            interrupted = self.work.queue.fail_interrupted(
                session, lambda work_id: self.lease(work_id).held_elsewhere()
            )
        if interrupted:
            log.warning("marked %d interrupted %s(s) failed", interrupted, self.work.what)
        return interrupted

    def start(self) -> None:
        self._stop.clear()
        try:
            self.recover()
        except Exception:  # noqa: BLE001 - a database away at start-up must not keep the server from starting
            log.exception("%s runner: could not look for interrupted work; the next start will", self.kind)
        self._beat, self._failing_since, self._recovered_at = time.monotonic(), None, time.monotonic()
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
        if self.work.close is not None:
            self.work.close()

    def halt(self) -> None:
        """Ask the job going on to give up and be queued again (a queue worker stopping: it has no thread of this
        runner to join, and another worker will run the job)."""
        self.requeue_when_halted = True
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """Whether the runner is stopping: a job that can give up should."""
        return self._stop.is_set()

    def beat(self) -> None:
        """The job going on is still alive: for a runner whose heartbeat goes on while busy."""
        self._beat = time.monotonic()

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
        if self._waiting or (self._busy_since is not None and not self.work.beats_while_busy):
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
        # Work left running by a process that died: on PostgreSQL that process may have been on another host, whose
        # next start would otherwise be the only one to notice.
        if time.monotonic() - self._recovered_at > get_settings().runner_recover_seconds:
            self.recover()
            self._recovered_at = time.monotonic()
        while not self._stop.is_set():
            self._beat = time.monotonic()
            with session_scope() as session:
                work_id = self.work.queue.next_queued(session)
            if work_id is None:
                return
            self.take(work_id)

    def take(self, work_id: uuid.UUID) -> bool:
        """Run one queued job here if nobody else has it: under its lease, claimed by a conditional update. False
        when another process holds or had claimed it."""
        held = self.lease(work_id)
        if not held.acquire():  # another runner or worker took it
            return False
        try:
            with session_scope() as session:
                claimed = self.work.queue.claim(session, work_id)
            if claimed:
                self._busy_since = time.monotonic()
                try:
                    self.work.run(self, work_id)
                finally:
                    self._busy_since = None
        finally:
            held.release()
        return claimed

    def fail(self, work_id: uuid.UUID, message: str) -> None:
        """Record a job's failure (a no-op for a job that has ended); if the database is away, keep it and record it
        on a later round. A queue worker that is stopping queues the job again instead: another worker runs it."""
        try:
            with session_scope() as session:
                if self.requeue_when_halted and self._stop.is_set():
                    if self.work.queue.requeue_abandoned(session, work_id):
                        log.warning("%s %s: queued again for another worker, this one is stopping", self.kind, work_id)
                        return
                self.work.queue.mark_failed(session, work_id, message)
        except Exception:
            self._unsettled[work_id] = message
            raise
        self._unsettled.pop(work_id, None)

    def _settle_unsettled(self) -> None:
        for work_id, message in list(self._unsettled.items()):
            self.fail(work_id, message)
