"""The render processes: child processes that open PDFs and draw their pages (api/pdf_pages.py), so that a hostile
PDF never runs in the server. Each works under the time limit and the memory ceiling of the CASEBINDER_PREVIEW_*
settings; one past its time is killed with everything it started, and one that crashes (out of memory, say) is
simply gone. Either way the request gets an answer in words and the server carries on.

A few are kept per server process (CASEBINDER_PREVIEW_RENDERERS) and reused, warm: starting one costs its imports.
A request waits for a free one, at most BUSY_WAIT seconds; then it is told to try again.
"""

import threading
import time
from enum import StrEnum
from functools import partial

from api import pdf_pages
from api.config import get_settings
from api.lifelines import Child

POLL = 0.1  # seconds between looks at a working render process
BUSY_WAIT = 30  # seconds a request waits for a free render process
# A render process that has drawn this many pages, or grown this big, is replaced: a fresh one gives back what
# the PDFs before left allocated.
RECYCLE_RENDERS = 500
RECYCLE_BYTES = 400 * 1024 * 1024


class Outcome(StrEnum):
    done = "done"  # the work ended by itself (its file may still say it failed)
    too_slow = "too_slow"
    crashed = "crashed"
    busy = "busy"


class Renderers:
    def __init__(self) -> None:
        self._idle: list[Child] = []
        self._lock = threading.Lock()
        self._slots: threading.BoundedSemaphore | None = None

    def run(self, task: str, source: str, out: str, page: int = 0, width: int = 0) -> Outcome:
        """`pdf_pages.work(task, source, out, page, width)` in a render process, within the time limit."""
        slots = self._semaphore()
        if not slots.acquire(timeout=BUSY_WAIT):
            return Outcome.busy
        try:
            child = self._hand(task, source, out, page, width)
            if child is None:
                return Outcome.crashed
            outcome = self._watch(child, get_settings().preview_render_timeout_seconds)
            if outcome is Outcome.done and child.given < RECYCLE_RENDERS and child.resident_bytes() < RECYCLE_BYTES:
                with self._lock:
                    self._idle.append(child)
            else:
                child.stop()
            return outcome
        finally:
            slots.release()

    def close(self) -> None:
        """Let the idle render processes go (at server shutdown)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for child in idle:
            child.close(grace=1)

    def _semaphore(self) -> threading.BoundedSemaphore:
        with self._lock:
            if self._slots is None:
                self._slots = threading.BoundedSemaphore(get_settings().preview_renderers)
            return self._slots

    def _hand(self, *args) -> Child | None:
        """An idle render process (or a new one) given the work; None when none could be started."""
        with self._lock:
            child = self._idle.pop() if self._idle else None
        for _ in range(2):
            if child is None:
                prepare = partial(pdf_pages.prepare, get_settings().preview_render_memory_mib)
                child = Child(pdf_pages.work, prepare=prepare, name="cb-render")
                child.start()
            if child.give(*args):
                return child
            child.stop()  # it died while idle
            child = None
        return None

    @staticmethod
    def _watch(child: Child, limit: float) -> Outcome:
        """Wait for the work to end. The limit counts from when the process takes the work (a new one imports
        first), or at the latest from one limit after it was handed over."""
        handed, began = time.monotonic(), None
        while not child.wait(POLL):
            now = time.monotonic()
            if began is None and (child.started() or now - handed > limit):
                began = now
            if began is not None and now - began > limit:
                return Outcome.too_slow
        return Outcome.done if child.finished else Outcome.crashed


renderers = Renderers()
