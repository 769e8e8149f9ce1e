"""Runs conversions in a child process, one after another, each under a time limit.

A hostile original (a PDF that sends qpdf into a loop, an image that takes minutes to decode) costs
at most the limit: the child is killed, the exhibit becomes a placeholder page, and a new child goes on
with the originals after it.

The child is handed the whole list at once and says when it starts and when it ends each one: it never
waits on its parent between originals, so a parent busy rendering pages (holding the interpreter lock)
does not slow the conversions down, and one child is all a build needs.

Children are forked from a fork server that has imported the conversion code once (`context()`): a child started
by spawning, as the build processes are, would import it again for every build, a second of CPU each time. The
server is a child of the build process, in its process group, and ends with it.
"""

import functools
import multiprocessing
import multiprocessing.context
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from api.bundle.convert import Converted, convert
from api.lifelines import die_with_parent

LOOK = 0.5  # seconds between looks at the stop flag while the child works
# Placeholder reasons, in words for the page: what the technical detail was goes to the server log only.
UNEXPECTED = "an unexpected problem stopped this file from being converted, so it cannot be reproduced"
CRASHED = "converting this file stopped the converter, so it cannot be reproduced"


@functools.cache
def context() -> multiprocessing.context.ForkServerContext:
    """The context converter children are started in: forked from a server holding this module's imports. Call
    `warm_up()` ahead of the first build to start that server while nothing waits for it."""
    forkserver = multiprocessing.get_context("forkserver")
    forkserver.set_forkserver_preload([__name__])
    return forkserver


def warm_up() -> None:
    """Start the fork server now (it starts with the first child otherwise)."""
    from multiprocessing import forkserver

    context()
    forkserver.ensure_running()


def too_slow(timeout: float) -> str:
    return f"converting this file took longer than the {timeout:g}-second limit, so it was stopped"


@dataclass(frozen=True)
class Job:
    key: int  # the caller's name for it (an exhibit's seq)
    source: Path
    media_type: str
    out_path: Path
    layers: Path | None = None  # the directory of the original's OCR text layers (api/bundle/text_layer.py)


def _convert_each(jobs: list[Job], conn: Connection, max_pixels: int) -> None:
    """The child: convert each original in turn, saying ("start", key) before and ("done", key, result) after."""
    die_with_parent("cb-convert")
    for job in jobs:
        conn.send(("start", job.key))
        try:
            result = convert(job.source, job.media_type, job.out_path, max_pixels=max_pixels, layers=job.layers)
        except Exception:  # noqa: BLE001 - an unexpected failure on one original must not sink the bundle
            result = Converted(None, [], UNEXPECTED, traceback.format_exc()[-4000:])
        conn.send(("done", job.key, result))
    conn.close()


class Converter:
    def __init__(self, *, timeout: float, max_pixels: int):
        self.timeout, self.max_pixels = timeout, max_pixels
        self._process: multiprocessing.process.BaseProcess | None = None

    def run_all(
        self, jobs: list[Job], done: Callable[[int, Converted], None], stop: threading.Event | None = None
    ) -> None:
        """Convert every job, calling `done(key, result)` for each as it ends, in order; return early once `stop` is
        set. An original that runs past the limit, or crashes the child, comes back as a placeholder."""
        pending = list(jobs)
        while pending and not (stop and stop.is_set()):
            pending = self._run_child(pending, done, stop)

    def run(self, source: Path, media_type: str, out_path: Path) -> Converted:
        """Convert one original."""
        results = []
        self.run_all([Job(0, source, media_type, out_path)], lambda _key, result: results.append(result))
        return results[0]

    def _run_child(self, pending: list[Job], done, stop) -> list[Job]:
        """Start a child on `pending` and follow it until it ends or is stopped; returns what it left undone."""
        ours, theirs = context().Pipe(duplex=False)
        self._process = context().Process(target=_convert_each, args=(pending, theirs, self.max_pixels), daemon=True)
        self._process.start()
        theirs.close()  # the child's end: once the child is gone, reading fails at once
        started = None  # when the child was seen starting pending[0]
        try:
            while pending:
                if stop and stop.is_set():
                    return pending
                wait = LOOK if started is None else min(LOOK, max(0.0, started + self.timeout - time.monotonic()))
                if ours.poll(wait):
                    try:
                        message = ours.recv()
                    except (EOFError, OSError):  # it died: the original it was on (or about to start) is the cause
                        done(pending[0].key, Converted(None, [], CRASHED, "the converter process ended"))
                        return pending[1:]
                    if message[0] == "start":
                        started = time.monotonic()
                    else:
                        done(message[1], message[2])
                        pending, started = pending[1:], None
                elif started is not None and time.monotonic() - started >= self.timeout:
                    done(pending[0].key, Converted(None, [], too_slow(self.timeout), "time limit"))
                    return pending[1:]
            return pending
        finally:
            ours.close()
            self.close(grace=0 if pending else 5)

    def close(self, grace: float = 0) -> None:
        """Stop the child, if one is left, after `grace` seconds to end by itself (it does once its list is done)."""
        process, self._process = self._process, None
        if process is None:
            return
        process.join(grace)
        if process.is_alive():
            process.kill()
        process.join()
