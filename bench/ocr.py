"""OCR throughput: the corpus's review screenshots and insert-card photos, with a few large phone photos among them,
uploaded in random order to a served casebinder and timed from the first upload until every item's text is read
(`text_status` of GET /api/v1/evidence/{id}), in pages per second; against the floor, in the same run: the
`tesseract` command alone (`tesseract img out`, plain text, default settings) on the same files, one after another.
Target: casebinder reaches at least 0.8x the floor.

Every round has pictures of its own (another seed), so nothing is deduplicated; who goes first alternates, so the
page cache and other load on the machine favour neither side. Also printed, for what it explains: the floor with
Tesseract held to one thread (OMP_THREAD_LIMIT=1, as the text reader runs it), and how much of casebinder's time
Tesseract itself took (the items' `ocr_seconds`). The text reader is niced (CASEBINDER_TEXT_NICE) and the floor is
not: on a machine busy with other work the reader yields to it, so the load average at the start is printed too.

BENCH_OCR_PAGES (screenshots and insert cards a round, default 40), BENCH_OCR_LARGE (large photos added, 6),
BENCH_OCR_ROUNDS (3).
"""

import os
import random
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
from PIL import Image

from api.demo_data import generate
from bench.common import median, server, wait_healthy
from bench.setup import make_workspace

KINDS = ("review_screenshot", "product_insert_card")
LARGE_SCALE = 2.5  # a 1600 x 1100 insert-card photo drawn at 4000 x 2750: a phone camera's 11 megapixels
POLL = 0.2  # seconds between looks at the item being read
SETTLED = {"done", "failed", "skipped"}
TARGET = 0.8


@dataclass(frozen=True)
class Picture:
    path: Path
    kind: str
    words: str  # a phrase its OCR text should hold: the reviewer's name, the seller's e-mail


def pictures(root: Path, *, count: int, large: int, seed: int) -> list[Picture]:
    """`count` screenshots and insert cards from the shared corpus, plus `large` of its insert cards photographed
    bigger (their EXIF orientation kept), in a random order of the seed's."""
    files = generate(root, exhibits=count, seed=seed, kinds=KINDS, record_files=False)
    found = [Picture(f.path, f.kind, f.facts.get("reviewer_name") or f.facts["contact"]) for f in files]
    for f in [f for f in files if f.kind == "product_insert_card"][:large]:
        path = f.path.with_name(f"photo_{f.path.stem}.jpg")
        with Image.open(f.path) as im:
            size = (round(im.width * LARGE_SCALE), round(im.height * LARGE_SCALE))
            im.resize(size, Image.Resampling.LANCZOS).save(path, "JPEG", quality=90, exif=im.getexif().tobytes())
        found.append(Picture(path, f.kind, f.facts["contact"]))
    random.Random(seed).shuffle(found)
    return found


def floor(paths: list[Path], *, threads: int | None = None) -> tuple[float, list[str]]:
    """(seconds `tesseract img out` takes on each picture in turn, the texts it wrote); default settings unless
    `threads` is given."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_THREAD_LIMIT"}
    if threads is not None:
        env["OMP_THREAD_LIMIT"] = str(threads)
    texts = []
    with tempfile.TemporaryDirectory(prefix="cb-ocr-floor-") as tmp:
        out = Path(tmp) / "out"
        started = time.perf_counter()
        for path in paths:
            subprocess.run(["tesseract", str(path), str(out)], env=env, check=True, capture_output=True)
            texts.append(out.with_suffix(".txt").read_text("utf-8", errors="replace"))
        return time.perf_counter() - started, texts


def upload(client: httpx.Client, case_id: str, picture: Picture) -> str:
    with picture.path.open("rb") as f:
        r = client.post(
            f"/api/v1/cases/{case_id}/evidence",
            data={"kind": picture.kind, "title": picture.path.name},
            files={"file": (picture.path.name, f, "image/jpeg" if picture.path.suffix == ".jpg" else "image/png")},
        )
    if r.status_code != 201:
        raise RuntimeError(f"upload of {picture.path.name} failed: {r.status_code} {r.text[:300]}")
    return r.json()["id"]


def wait_read(client: httpx.Client, ids: list[str]) -> list[dict]:
    """Each item once its text has settled. Items are read oldest first, so only the first unsettled one is asked
    after: a look or five a second, not a flood of requests competing with the reading."""
    items = []
    for evidence_id in ids:
        while (item := client.get(f"/api/v1/evidence/{evidence_id}").json())["text_status"] not in SETTLED:
            time.sleep(POLL)
        items.append(item)
    return items


def ours(client: httpx.Client, case_id: str, batch: list[Picture]) -> tuple[float, float, list[str]]:
    """(seconds from the first upload until every text was read, Tesseract's own seconds in them, the texts read).
    Fails unless every item's text was read."""
    started = time.perf_counter()
    ids = [upload(client, case_id, p) for p in batch]
    items = wait_read(client, ids)
    seconds = time.perf_counter() - started
    texts = []
    for picture, item in zip(batch, items, strict=True):
        if item["text_status"] != "done":
            raise RuntimeError(f"{picture.path.name}: text {item['text_status']} ({item['text_error']})")
        texts.append(client.get(f"/api/v1/evidence/{item['id']}/text", params={"format": "txt"}).text)
    return seconds, sum(item["ocr_seconds"] for item in items), texts


def _found(batch: list[Picture], texts: list[str]) -> int:
    """How many of the pictures' texts hold their words (Tesseract misses some: it finds no text at all in a
    few of the large photos, and reads a sideways photo as it is stored when nothing turns it first)."""
    return sum(p.words in text for p, text in zip(batch, texts, strict=True))


def _spread(values: list[float]) -> str:
    return f"min {min(values):.2f} / max {max(values):.2f}"


def one_round(client: httpx.Client, case_id: str, batch: list[Picture], *, floor_first: bool) -> dict:
    """One round's figures: pages per second through casebinder and for the floor (and the one-thread floor), and
    how many pages' words each read."""
    paths, pages, figures = [p.path for p in batch], len(batch), {}
    for side in ("floor", "ours") if floor_first else ("ours", "floor"):
        if side == "floor":
            seconds, texts = floor(paths)
        else:
            seconds, in_tesseract, texts = ours(client, case_id, batch)
            figures["tesseract_share"] = in_tesseract / seconds
        figures[side] = pages / seconds
        figures[f"{side}_found"] = _found(batch, texts)
    figures["one_thread"] = pages / floor(paths, threads=1)[0]
    return figures


def run(count: int = 40, large: int = 6, rounds: int = 3) -> dict:
    root = Path("var/bench") / f"ocr-{uuid.uuid4().hex[:6]}"
    ws = make_workspace(root)
    figures = []
    print(f"  load average at the start {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    try:
        with (
            server("api.app:app", ws.env | {"CASEBINDER_TEXT_OCR": "true"}) as (base, _pid),
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ws.token}"}, timeout=600) as client,
        ):
            wait_healthy(base)
            for n in range(rounds):
                batch = pictures(root / f"round-{n}", count=count, large=large, seed=1000 + n)
                f = one_round(client, ws.case_id, batch, floor_first=n % 2 == 0)
                figures.append(f)
                pages = len(batch)
                print(
                    f"  round {n + 1}/{rounds} ({pages} pages, {large} of them {LARGE_SCALE}x photos): "
                    f"casebinder {f['ours']:.2f} pages/s, floor {f['floor']:.2f} pages/s "
                    f"(one-thread floor {f['one_thread']:.2f}), ratio {f['ours'] / f['floor']:.2f}; "
                    f"pages whose words were read: casebinder {f['ours_found']}/{pages}, "
                    f"floor {f['floor_found']}/{pages}",
                    flush=True,
                )
    finally:
        ws.drop()
        shutil.rmtree(root, ignore_errors=True)
    ours_rates, floor_rates = [f["ours"] for f in figures], [f["floor"] for f in figures]
    one_thread_rates, tesseract_share = [f["one_thread"] for f in figures], [f["tesseract_share"] for f in figures]
    ratios = [o / f for o, f in zip(ours_rates, floor_rates, strict=True)]
    one_thread_ratios = [o / f for o, f in zip(ours_rates, one_thread_rates, strict=True)]
    result = {
        "pages": count + large,
        "ours_pages_s": median(ours_rates),
        "floor_pages_s": median(floor_rates),
        "one_thread_floor_pages_s": median(one_thread_rates),
        "ratio": median(ratios),
        "one_thread_ratio": median(one_thread_ratios),
    }
    print(
        f"OCR {count + large} pages x{rounds}: casebinder median {result['ours_pages_s']:.2f} pages/s "
        f"({_spread(ours_rates)}), floor (tesseract alone, default settings) median {result['floor_pages_s']:.2f} "
        f"pages/s ({_spread(floor_rates)}); ratio {result['ratio']:.2f} (min {min(ratios):.2f} / max "
        f"{max(ratios):.2f}; target >= {TARGET}: {'met' if result['ratio'] >= TARGET else 'MISSED'}); "
        f"against tesseract held to one thread ({result['one_thread_floor_pages_s']:.2f} pages/s) "
        f"{result['one_thread_ratio']:.2f}; Tesseract's own share of casebinder's time {median(tesseract_share):.0%}",
        flush=True,
    )
    return result


if __name__ == "__main__":
    run(
        count=int(os.environ.get("BENCH_OCR_PAGES", 40)),
        large=int(os.environ.get("BENCH_OCR_LARGE", 6)),
        rounds=int(os.environ.get("BENCH_OCR_ROUNDS", 3)),
    )
