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


def tree_rss(pid: int) -> int:
    """RSS of a process and all its descendants, in bytes."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            total += rss_bytes(current)
            for task in os.listdir(f"/proc/{current}/task"):  # children of every thread, not just the main one
                with open(f"/proc/{current}/task/{task}/children") as f:
                    stack += [int(c) for c in f.read().split()]
        except (FileNotFoundError, RuntimeError, ProcessLookupError):
            continue
    return total


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
    floors = []
    for _ in range(repeat):
        seconds, pages = bundle_floor.build(files, os.devnull)
        floors.append(seconds)
    root = Path("var/bench") / f"bundle-{uuid.uuid4().hex[:6]}"
    ws = make_workspace(root)
    seed(ws, files)
    builds, peaks, pages_built = [], [], 0
    with server("api.app:app", ws.env) as (base, pid):
        wait_healthy(base)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ws.token}"}, timeout=60) as http:
            for i in range(repeat):
                peak, stop = [tree_rss(pid)], threading.Event()

                def sample(peak=peak, stop=stop):
                    while not stop.is_set():
                        peak.append(tree_rss(pid))
                        time.sleep(0.05)

                sampler = threading.Thread(target=sample, daemon=True)
                sampler.start()
                t = time.perf_counter()
                bundle = http.post(f"/api/v1/cases/{ws.case_id}/bundles", json={"bates_start": 1}).json()
                while bundle["status"] not in ("done", "failed"):
                    time.sleep(0.05)
                    bundle = http.get(f"/api/v1/bundles/{bundle['id']}").json()
                builds.append(time.perf_counter() - t)
                stop.set()
                sampler.join()
                peaks.append(max(peak) / 2**20)
                assert bundle["status"] == "done", bundle
                pages_built = bundle["page_count"]
                print(
                    f"  run {i + 1}/{repeat}: floor {floors[i]:.2f} s, casebinder {builds[-1]:.2f} s "
                    f"({pages_built} pages, {bundle['size_bytes'] / 1e6:.1f} MB), peak RSS {peaks[-1]:.0f} MiB",
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
        "peak_rss_mib": max(peaks),
        "floor_pages": pages,
    }
    print(
        f"bundle {exhibits} exhibits: casebinder median {result['build_s']:.2f} s for {pages_built} pages "
        f"(min {min(builds):.2f} / max {max(builds):.2f}); floor median {result['floor_s']:.2f} s for {pages} pages "
        f"(min {min(floors):.2f} / max {max(floors):.2f}); ratio {result['ratio']:.2f} (target <= 2); "
        f"peak RSS server+workers {result['peak_rss_mib']:.0f} MiB (target < 600)",
        flush=True,
    )
    return result


if __name__ == "__main__":
    run(exhibits=int(os.environ.get("BENCH_BUNDLE_EXHIBITS", 500)), repeat=int(os.environ.get("BENCH_REPEAT", 3)))
