"""The garbage collector's pace while a big piece of work allocates millions of short-lived objects."""

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypedDict


class _Collecting(TypedDict):
    works: int
    thresholds: tuple[int, int, int]  # the process's, while no such work runs: restored when the last one ends


_collecting: _Collecting = {"works": 0, "thresholds": gc.get_threshold()}
_lock = threading.Lock()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the young-generation garbage collector less often while the work runs.

    A report's layout (WeasyPrint's boxes for a long table) or a record set's import (a dict per line parsed)
    allocates millions of short-lived objects, and at the default threshold (700) the collector walks them over
    and over: a fifth to a third of the work's time. The threshold is the process's, so it is raised while any
    such work runs and restored when the last one ends.
    """
    with _lock:
        if _collecting["works"] == 0:
            _collecting["thresholds"] = gc.get_threshold()
            gc.set_threshold(50_000, *_collecting["thresholds"][1:])
        _collecting["works"] += 1
    try:
        yield
    finally:
        with _lock:
            _collecting["works"] -= 1
            if _collecting["works"] == 0:
                gc.set_threshold(*_collecting["thresholds"])
