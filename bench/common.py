"""Shared helpers: start a server as its own process, sample its memory, summarise timings, seed exhibits."""

import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(app_path: str, env: dict, *, cwd: Path = ROOT, args: tuple[str, ...] = ()):
    """Run `uvicorn app_path` (with uvicorn's `args`) on a free port; yields (base_url, pid)."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app_path,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            *args,
        ],
        env=os.environ | env,
        cwd=cwd,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{app_path} did not start") from None
            time.sleep(0.1)
    try:
        yield base, proc.pid
    finally:
        # The server first, so it shuts its worker processes down itself; then whatever is left in its group.
        proc.terminate()
        try:
            proc.wait(timeout=30)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _rss_or_zero(pid: int) -> int:
    try:
        return rss_bytes(pid)
    except (OSError, RuntimeError):  # ended meanwhile
        return 0


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def descendants(pid: int) -> list[int]:
    """The processes a process started, and theirs, as /proc lists them now."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children") as f:
                    children = [int(c) for c in f.read().split()]
            except OSError:
                continue
            found += children
            todo += children
    return found


class RssSampler:
    """Samples a process's RSS every few milliseconds; `growth` is peak minus the starting value. `children_peak`
    is the highest sum of the RSS of the processes it started (reader processes, say), sampled beside it."""

    def __init__(self, pid: int, every: float = 0.005):
        self.pid, self.every = pid, every
        self.start = self.peak = rss_bytes(pid)
        self.children_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        n = 0
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            if n % 20 == 0:  # listing the processes costs more than reading one's size
                self.children_peak = max(self.children_peak, sum(_rss_or_zero(c) for c in descendants(self.pid)))
            n += 1
            time.sleep(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes(self.pid))

    @property
    def growth(self) -> int:
        return self.peak - self.start


def median(values):
    return statistics.median(values)


def p95(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def spread(values) -> str:
    return f"min {min(values):.1f} / max {max(values):.1f}"


def wait_healthy(base: str) -> None:
    for _ in range(100):
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{base} is not healthy")


def insert_exhibits(
    case: uuid.UUID,
    user_id: uuid.UUID,
    numbered: Iterable[tuple[int, uuid.UUID, dict]],
    *,
    now: datetime,
    label_digits: int,
) -> None:
    """Bulk-insert a review screenshot and its exhibit for each (number, evidence id, evidence fields), in one
    transaction: how the benchmarks seed cases far larger than uploading through the API could make in time."""
    from sqlalchemy import insert

    from api.db import get_engine
    from models.evidence import EvidenceItem
    from models.exhibit import Exhibit

    items, exhibits = [], []
    for n, evidence_id, fields in numbered:
        items.append(
            {
                "id": evidence_id,
                "case_id": case,
                "sha256": f"{n:064x}",
                "media_type": "image/png",
                "kind": "review_screenshot",
                "uploaded_by": user_id,
                "created_at": now,
                "updated_at": now,
            }
            | fields
        )
        exhibits.append(
            {
                "id": uuid.uuid4(),
                "case_id": case,
                "evidence_id": evidence_id,
                "number": n,
                "label": f"PX-{n:0{label_digits}d}",
                "position": n,
                "designation": "none",
                "created_by": user_id,
                "created_at": now,
            }
        )
    with get_engine().begin() as conn:
        conn.execute(insert(EvidenceItem), items)
        conn.execute(insert(Exhibit), exhibits)
