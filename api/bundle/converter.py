"""Runs conversions in a child process, one at a time, each under a time limit.

A hostile original (a PDF that sends qpdf into a loop, an image that takes minutes to decode) costs
at most the limit: the child is killed, the exhibit becomes a placeholder page, and the build goes on.
"""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from api.bundle.convert import Converted, convert
from api.lifelines import die_with_parent


class Converter:
    def __init__(self, *, timeout: float, max_pixels: int):
        self.timeout, self.max_pixels = timeout, max_pixels
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=die_with_parent,
                initargs=("cb-convert",),
            )
        return self._pool

    def run(self, source: Path, media_type: str, out_path: Path) -> Converted:
        future = self._executor().submit(convert, source, media_type, out_path, max_pixels=self.max_pixels)
        try:
            return future.result(timeout=self.timeout)
        except FutureTimeout:
            self._kill()
            return Converted(
                None, [], f"processing this file took longer than {self.timeout:.0f} seconds and was stopped"
            )
        except BrokenProcessPool:
            self._kill()
            return Converted(None, [], "processing this file crashed the converter")
        except Exception as exc:  # noqa: BLE001 - an unexpected failure on one original must not sink the bundle
            return Converted(None, [], f"this file could not be reproduced ({type(exc).__name__}: {str(exc)[:200]})")

    def _kill(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
