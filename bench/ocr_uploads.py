"""Uploads while OCR runs: a mix of upload sizes through POST /api/v1/cases/{id}/evidence, one after another, in
three states of the same workspace:
- quiet: a server with no background work at all (started with uvicorn's `--lifespan off`, so no runner runs);
- idle: the server as it runs, its text runner with no backlog, so it looks at each upload as it comes (these
  files hold no text: each is skipped, by the reader process, in a few milliseconds);
- under OCR: the same server while its text runner reads a backlog of pictures (the corpus's screenshots and insert
  cards, and large photos of them); the uploads' own looks wait behind it.
Printed: MB/s over the mix and small uploads per second in each, and the ratios of under OCR to idle (the target:
at least 0.8, since the text reader is niced below requests and holds Tesseract to one thread) and to quiet.

A round under OCR counts only if the backlog was still being read when its last upload ended (checked). Each state
starts once the text of everything before it has been read; rounds rotate which goes first; every upload sends new
bytes, and every backlog is pictures of its own.

BENCH_OCR_UPLOAD_ROUNDS (default 5), BENCH_OCR_BACKLOG (screenshots and insert cards in each backlog, 16, and a
quarter as many large photos).
"""

import os
import random
import shutil
import time
import uuid
from pathlib import Path

import httpx

from bench import upload as api_upload
from bench.common import median, server, wait_healthy
from bench.ocr import SETTLED, pictures, upload, wait_read
from bench.setup import make_workspace

KiB = 1024
MIX = [256 * KiB] * 24 + [2048 * KiB] * 8 + [16384 * KiB] * 4 + [65536 * KiB] * 2  # 214 MiB in 38 uploads
SMALL = 256 * KiB
STATES = ("quiet", "idle", "ocr")
TARGET = 0.8


def _bodies(block: memoryview, seed: int) -> list[tuple[int, list]]:
    """The mix in a random order: each upload's size and its multipart body, with bytes of its own in front."""
    sizes = MIX.copy()
    random.Random(seed).shuffle(sizes)
    bodies = []
    for size in sizes:
        head = uuid.uuid4().bytes
        chunks = [head, block[len(head) : min(size, len(block))]]
        chunks += [block] * ((size - min(size, len(block))) // len(block))
        pre = (
            b"--" + api_upload.BOUNDARY + b'\r\nContent-Disposition: form-data; name="kind"\r\n\r\nother\r\n'
            b"--" + api_upload.BOUNDARY + b'\r\nContent-Disposition: form-data; name="title"\r\n\r\nPhone dump\r\n'
            b"--" + api_upload.BOUNDARY + b'\r\nContent-Disposition: form-data; name="file"; filename="dump.bin"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n"
        )
        post = b"\r\n--" + api_upload.BOUNDARY + b"--\r\n"
        bodies.append((size, [pre, *chunks, post]))
    return bodies


def _mix(base: str, token: str, case_id: str, bodies: list[tuple[int, list]]) -> tuple[dict, list[str]]:
    """Upload the mix one after another: (MB/s over it all and small uploads per second, the items' ids)."""
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": f"multipart/form-data; boundary={api_upload.BOUNDARY.decode()}",
    }
    total = small = 0.0
    ids = []
    for size, parts in bodies:
        seconds, body = api_upload._send(
            base, f"/api/v1/cases/{case_id}/evidence", headers, parts, sum(len(p) for p in parts)
        )
        assert body["size_bytes"] == size, body
        ids.append(body["id"])
        total += seconds
        if size == SMALL:
            small += seconds
    return {"mb_s": sum(s for s, _ in bodies) / total / 1e6, "small_per_s": MIX.count(SMALL) / small}, ids


def _under_ocr(client: httpx.Client, ws, backlog: list, bodies: list) -> tuple[dict, list[str]]:
    """The mix while the text runner reads `backlog`: started once the first picture is being read; checked that
    the last was still unread when the mix ended."""
    ids = [upload(client, ws.case_id, p) for p in backlog]
    while client.get(f"/api/v1/evidence/{ids[0]}").json()["text_status"] == "pending":
        time.sleep(0.05)
    figures, mixed = _mix(str(client.base_url), ws.token, ws.case_id, bodies)
    if client.get(f"/api/v1/evidence/{ids[-1]}").json()["text_status"] in SETTLED:
        raise RuntimeError("the OCR backlog was read before the uploads ended: make it longer (BENCH_OCR_BACKLOG)")
    return figures, ids + mixed


def run(rounds: int = 5, backlog: int = 16) -> dict:
    root = Path("var/bench") / f"ocr-uploads-{uuid.uuid4().hex[:6]}"
    ws = make_workspace(root)
    block = memoryview(os.urandom(1 << 20))
    seen: dict[str, list[dict]] = {state: [] for state in STATES}
    print(f"  load average at the start {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    env = ws.env | {"CASEBINDER_TEXT_OCR": "true"}
    try:
        with (
            server("api.app:app", env) as (base, _pid),
            server("api.app:app", env, args=("--lifespan", "off")) as (quiet_base, _quiet_pid),
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ws.token}"}, timeout=600) as client,
        ):
            wait_healthy(base)
            wait_healthy(quiet_base)
            for n in range(rounds):
                pics = pictures(root / f"backlog-{n}", count=backlog, large=backlog // 4, seed=2000 + n)
                for k, state in enumerate(STATES[n % 3 :] + STATES[: n % 3]):
                    bodies = _bodies(block, seed=3 * n + k)
                    if state == "ocr":
                        figures, ids = _under_ocr(client, ws, pics, bodies)
                    else:
                        figures, ids = _mix(quiet_base if state == "quiet" else base, ws.token, ws.case_id, bodies)
                    seen[state].append(figures)
                    # Everything read before the next state (the quiet server's uploads are read by the other's
                    # runner at its next look, within seconds).
                    wait_read(client, ids)
                print(
                    f"  round {n + 1}/{rounds} ({len(MIX)} uploads, {sum(MIX) / 2**20:.0f} MiB; OCR backlog of "
                    f"{len(pics)} pictures): "
                    + ", ".join(
                        f"{state} {seen[state][-1]['mb_s']:.0f} MB/s and {seen[state][-1]['small_per_s']:.0f} "
                        "small uploads/s"
                        for state in STATES
                    ),
                    flush=True,
                )
    finally:
        ws.drop()
        shutil.rmtree(root, ignore_errors=True)
    result = {f"{state}_{m}": median([f[m] for f in seen[state]]) for state in STATES for m in ("mb_s", "small_per_s")}
    ratios = {
        f"{m}_{base}": [o[m] / b[m] for o, b in zip(seen["ocr"], seen[base], strict=True)]
        for m in ("mb_s", "small_per_s")
        for base in ("idle", "quiet")
    }
    result |= {f"ratio_{key}": median(values) for key, values in ratios.items()}
    met = min(result["ratio_mb_s_idle"], result["ratio_small_per_s_idle"]) >= TARGET
    print(
        f"uploads under OCR x{rounds}: medians quiet {result['quiet_mb_s']:.0f} MB/s and "
        f"{result['quiet_small_per_s']:.0f} small (256 KiB) uploads/s; idle {result['idle_mb_s']:.0f} MB/s and "
        f"{result['idle_small_per_s']:.0f}/s; under OCR {result['ocr_mb_s']:.0f} MB/s and "
        f"{result['ocr_small_per_s']:.0f}/s. Under OCR / idle: {result['ratio_mb_s_idle']:.2f} "
        f"(min {min(ratios['mb_s_idle']):.2f}) and {result['ratio_small_per_s_idle']:.2f} "
        f"(min {min(ratios['small_per_s_idle']):.2f}) (target >= {TARGET}: {'met' if met else 'MISSED'}); "
        f"under OCR / quiet: {result['ratio_mb_s_quiet']:.2f} and {result['ratio_small_per_s_quiet']:.2f}",
        flush=True,
    )
    return result


if __name__ == "__main__":
    run(
        rounds=int(os.environ.get("BENCH_OCR_UPLOAD_ROUNDS", 5)),
        backlog=int(os.environ.get("BENCH_OCR_BACKLOG", 16)),
    )
