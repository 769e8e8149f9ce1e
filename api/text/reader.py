"""The text reader's process: extract.py run in a child process (api/lifelines.py Child), niced, that is killed with
everything it started (Tesseract) when it runs past its time, and replaced when it crashes. One is kept warm
between items: starting one costs its imports."""

import logging
import os
import pickle
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from api.lifelines import Child
from api.text.extract import Extracted, TextLimits, run

log = logging.getLogger(__name__)
POLL = 0.5  # seconds between looks at a working reader
RECYCLE_READS = 200  # a reader that has read this many items is replaced (what they left allocated goes with it)


class ReadFailed(Exception):
    """The reader ran past its time or died: args[0] says so in words."""


def _prepare(nice: int) -> None:
    os.nice(nice)
    import PIL.Image  # noqa: F401
    import pypdfium2  # noqa: F401


class Reader:
    def __init__(self) -> None:
        self._child: Child | None = None
        self._nice = 0

    def read(
        self,
        source: Path,
        media_type: str,
        filename: str,
        limits: TextLimits,
        *,
        timeout: float,
        tick: Callable[[], None] = lambda: None,
    ) -> Extracted:
        """Extract the text of `source` in the reader process within `timeout` seconds. `tick` is called while it
        works, and may raise to give up (the process is then stopped)."""
        began = time.monotonic()
        # A warm reader that died while it waited (killed, say) is only found out once it has been handed the file,
        # which it never took: the file then goes to a new reader.
        for fresh in (self._child is None, True):
            found = self._read_once(source, media_type, filename, limits, began + timeout, timeout, tick)
            if found is not None:
                return found
            if fresh:
                break
            log.warning("the text reader process had died before it took %s; a new one reads it", source.name)
        raise ReadFailed("the text reader process could not be started")

    def _read_once(self, source, media_type, filename, limits, deadline, timeout, tick) -> Extracted | None:
        """One reading by the reader process: None when the process had ended before it took the file."""
        with tempfile.TemporaryDirectory(prefix="cb-text-") as tmp:
            out = Path(tmp) / "found.pickle"
            child = self._take(limits.nice, str(source), media_type, filename, limits, str(out))
            try:
                while not child.wait(POLL):
                    tick()
                    if time.monotonic() > deadline:
                        raise ReadFailed(
                            f"reading the text took longer than its {timeout:.0f} s limit, so it was stopped"
                        )
            except BaseException:
                self._drop()
                raise
            if not child.finished or not out.exists():
                took = child.started()
                self._drop()
                if not took:
                    return None
                raise ReadFailed("the text reader stopped while reading this file (it ran out of memory or crashed)")
            if child.given >= RECYCLE_READS:
                self._drop()
            with open(out, "rb") as f:
                return pickle.load(f)  # noqa: S301 - written by our own reader process, a moment ago

    def _take(self, nice: int, *args) -> Child:
        if self._child is not None and self._nice == nice and self._child.give(*args):
            return self._child
        self._drop()
        self._child, self._nice = Child(run, prepare=partial(_prepare, nice), name="cb-text"), nice
        self._child.start()
        if not self._child.give(*args):
            self._drop()
            raise ReadFailed("the text reader process could not be started")
        return self._child

    def _drop(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            child.stop()

    def close(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            child.close()
