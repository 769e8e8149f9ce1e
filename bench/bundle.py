"""Bundle build time: a 500-exhibit case (about 1,300 pages), request to done, against the floor.

The floor does the least a bundle needs (bench/bundle_floor.py): one WeasyPrint render of cover, index and
slip sheets, img2pdf for the images, pikepdf to merge and stamp. casebinder does much more (record pages,
sanitising, links, outline, labels, certificate, validation), in its worker process.
"""

import os
import pickle
import shutil
import threading
import time
import uuid
from pathlib import Path

import httpx

from api.db import session_scope
from api.demo_data import generate
from api.deps import get_blob_store
from api.services import evidence as evidence_service
from bench import bundle_floor
from bench.common import median, rss_bytes, server, wait_healthy
from bench.setup import make_workspace
from models.case import Case
from models.user import User

# The mix of the reference corpus: two review screenshots, an insert card, a refund and a chat per five.
MIX = ("review_screenshot", "review_screenshot", "product_insert_card", "refund_record", "chat_log")


def corpus(exhibits: int) -> list:
    """The generated corpus, kept under var/bench between runs (generating 500 exhibits takes about a minute)."""
    root = Path("var/bench") / f"corpus-{exhibits}"
    listing = root / "files.pickle"
    if listing.exists():
        return pickle.loads(listing.read_bytes())
    files = generate(root, exhibits=exhibits, kinds=MIX, record_files=False)
    listing.write_bytes(pickle.dumps(files))
    return files


def tree(pid: int) -> list[tuple[int, str, int]]:
    """A process and all its descendants, each as (pid, name, RSS in bytes); the server first."""
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/comm") as f:
                name = f.read().strip()
            found.append((current, name, rss_bytes(current)))
            for task in os.listdir(f"/proc/{current}/task"):  # children of every thread, not just the main one
                with open(f"/proc/{current}/task/{task}/children") as f:
                    stack += [int(c) for c in f.read().split()]
        except (FileNotFoundError, RuntimeError, ProcessLookupError):
            continue
    return found


def tree_rss(pid: int) -> int:
    """RSS of a process and all its descendants, in bytes."""
    return sum(rss for _, _, rss in tree(pid))


def breakdown(processes: list[tuple[int, str, int]], server_pid: int) -> str:
    """ "server 150 + cb-build 210 + cb-convert 90" (MiB), the server first, then the biggest."""
    named = [("server" if pid == server_pid else name, rss) for pid, name, rss in processes]
    named = named[:1] + sorted(named[1:], key=lambda item: -item[1])
    return " + ".join(f"{name} {rss / 2**20:.0f}" for name, rss in named)


class PeakSampler:
    """Samples the RSS of a process tree every 50 ms; keeps the biggest total and what made it up."""

    def __init__(self, pid: int):
        self.pid, self.peak, self.at_peak = pid, 0, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        processes = tree(self.pid)
        total = sum(rss for _, _, rss in processes)
        if total > self.peak:
            self.peak, self.at_peak = total, processes

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            time.sleep(0.05)

    def __enter__(self):
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def seed(ws, files) -> None:
    store = get_blob_store()
    with session_scope() as session:
        case = session.get(Case, uuid.UUID(ws.case_id))
        user = session.get(User, case.created_by)
        for f in files:
            meta = evidence_service.EvidenceMeta(
                kind=f.kind, title=f.title, occurred_at=f.occurred_at, custodian=f.custodian, source_url=f.source_url
            )
            evidence_service.ingest_file(session, store, case=case, actor=user, path=f.path, meta=meta)


def run(exhibits: int = 500, repeat: int = 3) -> dict:
    started = time.perf_counter()
    files = corpus(exhibits)
    print(f"  corpus: {len(files)} files ready in {time.perf_counter() - started:.1f} s", flush=True)
    floors, pages = [], 0
    root = Path("var/bench") / f"bundle-{uuid.uuid4().hex[:6]}"
    ws = make_workspace(root)
    seed(ws, files)
    builds, peaks, pages_built = [], [], 0
    with server("api.app:app", ws.env) as (base, pid):
        wait_healthy(base)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ws.token}"}, timeout=60) as http:
            for i in range(repeat):
                # Each build beside a floor run just before it: on a shared machine the two then see the same load.
                seconds, pages = bundle_floor.build(files, os.devnull)
                floors.append(seconds)
                with PeakSampler(pid) as sampler:
                    t = time.perf_counter()
                    bundle = http.post(f"/api/v1/cases/{ws.case_id}/bundles", json={"bates_start": 1}).json()
                    while bundle["status"] not in ("done", "failed"):
                        time.sleep(0.05)
                        bundle = http.get(f"/api/v1/bundles/{bundle['id']}").json()
                    builds.append(time.perf_counter() - t)
                peaks.append(sampler.peak / 2**20)
                assert bundle["status"] == "done", bundle
                pages_built = bundle["page_count"]
                print(
                    f"  run {i + 1}/{repeat}: floor {floors[i]:.2f} s, casebinder {builds[-1]:.2f} s "
                    f"(ratio {builds[-1] / floors[i]:.2f}) "
                    f"{pages_built} pages, {bundle['size_bytes'] / 1e6:.1f} MB, peak RSS {peaks[-1]:.0f} MiB "
                    f"= {breakdown(sampler.at_peak, pid)}",
                    flush=True,
                )
    ws.drop()
    shutil.rmtree(root, ignore_errors=True)
    result = {
        "exhibits": exhibits,
        "pages": pages_built,
        "floor_s": median(floors),
        "build_s": median(builds),
        "ratio": median(builds) / median(floors),
        "ratios": [b / f for b, f in zip(builds, floors, strict=True)],
        "peak_rss_mib": max(peaks),
        "peak_rss_median_mib": median(peaks),
        "floor_pages": pages,
    }
    print(
        f"bundle {exhibits} exhibits: casebinder median {result['build_s']:.2f} s for {pages_built} pages "
        f"(min {min(builds):.2f} / max {max(builds):.2f}); floor median {result['floor_s']:.2f} s for {pages} pages "
        f"(min {min(floors):.2f} / max {max(floors):.2f}); ratio {result['ratio']:.2f} "
        f"(per run min {min(result['ratios']):.2f} / max {max(result['ratios']):.2f}; target <= 2); "
        f"peak RSS server+workers median {result['peak_rss_median_mib']:.0f} MiB "
        f"(min {min(peaks):.0f} / max {max(peaks):.0f}; target < 500)",
        flush=True,
    )
    return result


if __name__ == "__main__":
    run(exhibits=int(os.environ.get("BENCH_BUNDLE_EXHIBITS", 500)), repeat=int(os.environ.get("BENCH_REPEAT", 3)))
